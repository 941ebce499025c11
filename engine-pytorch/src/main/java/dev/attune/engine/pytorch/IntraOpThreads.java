package dev.attune.engine.pytorch;

import ai.djl.pytorch.jni.JniUtils;

/**
 * A model's intra-op thread count, applied on every Java thread that computes with it.
 *
 * <p>libtorch's {@code set_num_threads} sets OpenMP's and MKL's thread counts for the calling
 * thread ({@code omp_set_num_threads} writes that thread's own setting), while
 * {@code get_num_threads} reports the last count set anywhere. So a model lowered with one thread
 * computed with two on a thread where a model lowered with two had run before (process CPU time
 * 1.71x the wall time, {@code IntraOpThreadsTest}); a thread that never ran parallel work may also
 * reach MKL's products with the default, every core. Two models served from one pool of threads,
 * or Spark tasks that call a model an earlier task loaded, meet both. The count applied on each
 * thread is remembered, so a thread that keeps computing with one model pays the native call once.
 */
final class IntraOpThreads {
    private static final ThreadLocal<int[]> APPLIED = ThreadLocal.withInitial(() -> new int[] {0});

    private IntraOpThreads() {}

    /** @param n the thread count to compute with on this thread; 0 leaves libtorch's default */
    static void apply(int n) {
        if (n <= 0) {
            return;
        }
        int[] applied = APPLIED.get();
        if (applied[0] != n) {
            JniUtils.setNumThreads(n);
            applied[0] = n;
        }
    }
}
