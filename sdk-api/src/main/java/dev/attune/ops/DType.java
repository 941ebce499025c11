package dev.attune.ops;

import org.apiguardian.api.API;

/** Element types that cross the ops contract and the weight store. */
@API(status = API.Status.STABLE, since = "0.1")
public enum DType {
    /** 32-bit IEEE float: the compute type of every engine. */
    FLOAT32(4),
    /** 16-bit IEEE float: stored weights and optional exports. */
    FLOAT16(2),
    /** bfloat16: stored weights only; converted to FLOAT32 in Java before reaching an engine. */
    BFLOAT16(2),
    /** 64-bit signed integer: token ids, labels, masks as HuggingFace feeds them. */
    INT64(8),
    /** 32-bit signed integer. */
    INT32(4),
    /** 8-bit boolean. */
    BOOL(1);

    private final int byteSize;

    DType(int byteSize) {
        this.byteSize = byteSize;
    }

    /** @return bytes per element */
    public int byteSize() {
        return byteSize;
    }
}
