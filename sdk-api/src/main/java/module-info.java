/**
 * Attune's API: the ops contract architectures are written against, the engine, family, task,
 * source and exporter SPIs, the errors, and the value types users hold. Every exported type is
 * marked with its stability ({@code @API} from apiguardian). Implementations (the runtime, the
 * formats, engines, models, tasks) live in other modules and are found with {@link
 * java.util.ServiceLoader}.
 */
module dev.attune.api {
    requires transitive com.fasterxml.jackson.databind;
    requires static transitive org.apiguardian.api;

    exports dev.attune.ops;
    exports dev.attune.engine;
    exports dev.attune.model;
    exports dev.attune.task;
    exports dev.attune.train;
    exports dev.attune.generate;
    exports dev.attune.error;
}
