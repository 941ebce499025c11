package dev.attune.spark;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.module.scala.DefaultScalaModule$;
import dev.attune.Attune;
import dev.attune.model.FineTunedModel;
import dev.attune.testing.SharedFiles;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.junit.jupiter.api.Test;

/**
 * Spark and DJL in one JVM: the libraries both use (Jackson, protobuf, SLF4J, Guava/Guice) resolve
 * to versions each accepts, shown by running a Spark SQL job whose tasks predict with an Attune
 * model on DJL's PyTorch engine in this same JVM.
 */
class DependencyAlignmentTest {
    static final Path MODEL = SharedFiles.path("fixtures/hf/bert-seqcls");

    @Test
    void sparkAndDjlRunInOneJvm() {
        // Spark's Scala module refuses a jackson-databind of another minor version when it registers
        ObjectMapper mapper = new ObjectMapper().registerModule(DefaultScalaModule$.MODULE$);
        assertThat(mapper.getRegisteredModuleIds()).isNotEmpty();
        assertThat(com.fasterxml.jackson.databind.cfg.PackageVersion.VERSION.getMinorVersion())
                .isEqualTo(com.fasterxml.jackson.module.scala.JacksonModule$.MODULE$.version().getMinorVersion());
        // one SLF4J provider, Spark's log4j binding (not the NOP fallback)
        assertThat(org.slf4j.LoggerFactory.getILoggerFactory().getClass().getName()).containsIgnoringCase("log4j");

        SparkSession spark = AttuneSpark.session("local[1]", 0);
        try {
            StructType schema = new StructType().add("text", DataTypes.StringType);
            Dataset<Row> rows = spark.createDataFrame(List.of(RowFactory.create("the movie was wonderful"),
                    RowFactory.create("terrible plot")), schema);
            List<Row> out = AttuneSpark.predict(rows, MODEL, AttuneSpark.PredictOptions.defaults()).collectAsList();
            try (Attune attune = Attune.builder().build(); FineTunedModel m = attune.open(MODEL)) {
                Map<String, Object> expected = m.predictor().predict("terrible plot").toMap();
                assertThat(out.get(1).<String>getAs("label")).isEqualTo(expected.get("label"));
                assertThat(out.get(1).<Double>getAs("score")).isCloseTo((Double) expected.get("score"),
                        org.assertj.core.data.Offset.offset(1e-6));
            }
            // Spark's own JSON (Jackson with the Scala module) and protobuf-backed plans still work beside DJL
            assertThat(spark.sql("SELECT 1 AS id, 'a' AS s").toJSON().collectAsList()).containsExactly("{\"id\":1,\"s\":\"a\"}");
        } finally {
            spark.stop();
        }
    }
}
