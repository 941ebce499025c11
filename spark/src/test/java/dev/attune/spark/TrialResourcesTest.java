package dev.attune.spark;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.attune.error.ConfigurationException;
import java.util.Map;
import org.apache.spark.SparkConf;
import org.apache.spark.resource.ResourceInformation;
import org.apache.spark.resource.ResourceProfile;
import org.junit.jupiter.api.Test;

/** GPUs per trial without a GPU: the resource profile a rung's stage gets, the checks before it runs, the device a trial picks. */
class TrialResourcesTest {
    @Test
    void noGpusMeansTheDefaultProfile() {
        assertThat(TrialResources.profile(2, 0, new SparkConf(false))).isNull();
    }

    @Test
    void withoutDynamicAllocationATrialAsksItsTaskForCpusAndGpusOnly() {
        ResourceProfile p = TrialResources.profile(3, 1, new SparkConf(false).set("spark.executor.resource.gpu.amount", "2"));
        assertThat(p.taskResourcesJMap().get("cpus").amount()).isEqualTo(3.0);
        assertThat(p.taskResourcesJMap().get("gpu").amount()).isEqualTo(1.0);
        // a task-only profile runs on the executors the application started with
        assertThat(p.executorResourcesJMap()).isEmpty();
    }

    @Test
    void withDynamicAllocationItAlsoAsksForExecutorsWithThoseGpus() {
        SparkConf conf = new SparkConf(false).set("spark.dynamicAllocation.enabled", "true")
                .set("spark.executor.cores", "4").set("spark.executor.resource.gpu.discoveryScript", "/opt/gpus.sh");
        ResourceProfile p = TrialResources.profile(2, 2, conf);
        assertThat(p.taskResourcesJMap().get("gpu").amount()).isEqualTo(2.0);
        assertThat(p.executorResourcesJMap().get("cores").amount()).isEqualTo(4);
        assertThat(p.executorResourcesJMap().get("gpu").amount()).isEqualTo(2);
        assertThat(p.executorResourcesJMap().get("gpu").discoveryScript()).isEqualTo("/opt/gpus.sh");
    }

    @Test
    void aSearchThatCannotGetItsGpusIsRefusedBeforeItWaitsForThem() {
        TrialResources.check("local[2]", 0, null);
        assertThatThrownBy(() -> TrialResources.check("local[2]", 1, null)).isInstanceOf(ConfigurationException.class)
                .hasMessageContaining("need a cluster master");
        TrialResources.check("spark://h:7077", 1, null);
        assertThatThrownBy(() -> TrialResources.check("spark://h:7077", 2,
                new SparkConf(false).set("spark.executor.resource.gpu.amount", "1")))
                .isInstanceOf(ConfigurationException.class)
                .hasMessageContaining("asks for 2 GPU(s) but each executor offers 1 (spark.executor.resource.gpu.amount)");
        TrialResources.check("spark://h:7077", 2, new SparkConf(false).set("spark.executor.resource.gpu.amount", "2"));
        TrialResources.check("yarn", 1, new SparkConf(false).set("spark.dynamicAllocation.enabled", "true"));
    }

    @Test
    void aTrialTrainsOnTheGpuSparkAssignedItsTask() {
        assertThat(TrialResources.device(Map.of())).isNull();
        assertThat(TrialResources.device(Map.of("gpu", new ResourceInformation("gpu", new String[] {"3", "4"}))))
                .isEqualTo("gpu:3");
        assertThatThrownBy(() -> TrialResources.device(Map.of("gpu", new ResourceInformation("gpu",
                new String[] {"GPU-1f2e"})))).isInstanceOf(ConfigurationException.class).hasMessageContaining("GPU-1f2e");
    }

    @Test
    void optionsAndLocations() {
        assertThat(AttuneSpark.TuneOptions.defaults().maxFailures()).isEqualTo(AttuneSpark.DEFAULT_MAX_FAILURES)
                .isGreaterThan(1);
        assertThatThrownBy(() -> AttuneSpark.TuneOptions.defaults().withMaxFailures(0))
                .isInstanceOf(ConfigurationException.class);
        assertThat(Staged.isUri("hdfs://nn:8020/models/m")).isTrue();
        assertThat(Staged.isUri("s3a://bucket/m")).isTrue();
        assertThat(Staged.isUri("file:/tmp/m")).isTrue();
        assertThat(Staged.isUri("/tmp/m")).isFalse();
        assertThat(Staged.isUri("models/m:v2")).isFalse();
    }
}
