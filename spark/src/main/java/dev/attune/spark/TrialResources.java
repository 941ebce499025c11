package dev.attune.spark;

import dev.attune.error.ConfigurationException;
import java.util.Map;
import org.apache.spark.SparkConf;
import org.apache.spark.resource.ExecutorResourceRequests;
import org.apache.spark.resource.ResourceInformation;
import org.apache.spark.resource.ResourceProfile;
import org.apache.spark.resource.ResourceProfileBuilder;
import org.apache.spark.resource.TaskResourceRequests;

/**
 * GPUs per trial through Spark's stage-level scheduling: the resource profile a rung's stage runs
 * with, the checks that keep a search from waiting for GPUs no executor offers, and the device a
 * trial trains on (the GPU address Spark assigned to its task).
 */
final class TrialResources {
    static final String GPU = "gpu";

    private TrialResources() {}

    /**
     * @param master the master URL
     * @param gpusPerTrial GPUs a trial asks for
     * @param conf the session's settings, null before it starts (then only the master is checked)
     * @throws ConfigurationException when this master or these executors cannot give a trial its GPUs
     */
    static void check(String master, int gpusPerTrial, SparkConf conf) {
        if (gpusPerTrial <= 0) {
            return;
        }
        String m = master.strip();
        if (m.equals("local") || m.startsWith("local[")) {
            throw new ConfigurationException("GPUs per trial (" + gpusPerTrial + ") need a cluster master (spark://host:7077,"
                    + " yarn, k8s://...) whose executors have GPUs: the embedded " + m + " master has no stage-level"
                    + " scheduling; on one machine run the search without Spark, with --device gpu");
        }
        if (conf == null || dynamicAllocation(conf)) {
            return;
        }
        long offered = conf.getLong("spark.executor.resource.gpu.amount", 0);
        if (offered < gpusPerTrial) {
            throw new ConfigurationException("a trial asks for " + gpusPerTrial + " GPU(s) but each executor offers "
                    + offered + " (spark.executor.resource.gpu.amount): start the application with"
                    + " spark.executor.resource.gpu.amount >= " + gpusPerTrial + " and"
                    + " spark.executor.resource.gpu.discoveryScript (Spark's getGpusResources.sh), or with dynamic"
                    + " allocation so that Spark starts executors with GPUs for the trials");
        }
    }

    static boolean dynamicAllocation(SparkConf conf) {
        return conf.getBoolean("spark.dynamicAllocation.enabled", false);
    }

    /**
     * The profile of a rung's stage: each task (trial) asks {@code cpus} CPUs and {@code gpus} GPUs.
     * Without dynamic allocation it is a task-only profile, scheduled on the executors the
     * application started with (which must offer GPUs); with dynamic allocation it also asks for
     * executors with those GPUs (found by the discovery script of the session's settings).
     *
     * @param cpus CPUs per trial
     * @param gpus GPUs per trial
     * @param conf the session's settings
     * @return the profile, null for none (no GPUs: the stage runs on the default profile)
     */
    static ResourceProfile profile(int cpus, int gpus, SparkConf conf) {
        if (gpus <= 0) {
            return null;
        }
        TaskResourceRequests task = new TaskResourceRequests().cpus(cpus).resource(GPU, gpus);
        ResourceProfileBuilder b = new ResourceProfileBuilder().require(task);
        if (dynamicAllocation(conf)) {
            int cores = Math.max(cpus, conf.getInt("spark.executor.cores", cpus));
            long amount = Math.max(gpus, conf.getLong("spark.executor.resource.gpu.amount", 0));
            b.require(new ExecutorResourceRequests().cores(cores).resource(GPU, amount,
                    conf.get("spark.executor.resource.gpu.discoveryScript", ""),
                    conf.get("spark.executor.resource.gpu.vendor", "")));
        }
        return b.build();
    }

    /**
     * @param resources the resources Spark assigned to the running task
     * @return the device the trial trains on: {@code gpu:N} for the first GPU address assigned, null
     *     where the task has no GPU (the search's own {@code --device})
     */
    static String device(Map<String, ResourceInformation> resources) {
        ResourceInformation gpu = resources == null ? null : resources.get(GPU);
        if (gpu == null || gpu.addresses().length == 0) {
            return null;
        }
        String address = gpu.addresses()[0].strip();
        if (!address.matches("\\d+")) {
            throw new ConfigurationException("executor " + AttuneSpark.executorId() + " was given GPU address '" + address
                    + "': Attune selects a GPU by its index (gpu:N); the discovery script must print CUDA device indices");
        }
        return "gpu:" + address;
    }
}
