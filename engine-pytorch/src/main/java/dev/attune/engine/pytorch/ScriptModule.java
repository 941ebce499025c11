package dev.attune.engine.pytorch;

import ai.djl.ndarray.NDManager;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.engine.PtNDManager;
import ai.djl.pytorch.engine.PtSymbolBlock;
import ai.djl.pytorch.jni.IValue;
import ai.djl.pytorch.jni.IValueUtils;
import ai.djl.pytorch.jni.JniUtils;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * libtorch kernels DJL's JNI layer has no binding for, reached through TorchScript: a module whose
 * one {@code forward} calls the kernel, written here as a TorchScript archive (the module's pickled
 * state and its source, composed here, not produced by Python) and loaded through DJL. The modules
 * hold no parameters; every tensor is an argument.
 */
final class ScriptModule {
    /** Owns the loaded modules; lives as long as the class. */
    private static final NDManager MODULES = NDManager.newBaseManager("PyTorch");

    private ScriptModule() {}

    /**
     * @param className the module's class, {@code __torch__.<className>}
     * @param forward the whole {@code forward} definition, indented by two spaces, e.g. {@code
     *     "  def forward(self: __torch__.X, a: Tensor) -> Tensor:\n    return a\n"}
     * @return the loaded module
     * @throws IOException or a runtime exception when libtorch refuses the archive
     */
    static PtSymbolBlock load(String className, String forward) throws IOException {
        return JniUtils.loadModule((PtNDManager) MODULES, new ByteArrayInputStream(archive(className, forward)),
                false, false);
    }

    /** The TorchScript source of a parameterless module with the given {@code forward}. */
    static String source(String className, String forward) {
        return "class " + className + "(Module):\n"
                + "  __parameters__ = []\n"
                + "  __buffers__ = []\n"
                + "  training : bool\n"
                + forward;
    }

    /** A TorchScript archive (format version 3) holding the module in eval mode. */
    static byte[] archive(String className, String forward) {
        // data.pkl, pickle protocol 2: an instance of __torch__.<className> whose state is {"training": False}
        ByteArrayOutputStream state = new ByteArrayOutputStream();
        state.write(0x80);
        state.write(2);
        state.writeBytes(("c__torch__\n" + className + "\n").getBytes(StandardCharsets.US_ASCII));
        state.write(')'); // empty tuple of constructor arguments
        state.write(0x81); // NEWOBJ
        state.write('}'); // empty dict
        byte[] name = "training".getBytes(StandardCharsets.US_ASCII);
        state.write('X'); // BINUNICODE: 4-byte little-endian length, then UTF-8
        state.write(name.length);
        state.write(0);
        state.write(0);
        state.write(0);
        state.writeBytes(name);
        state.write(0x89); // NEWFALSE
        state.write('s'); // SETITEM
        state.write('b'); // BUILD
        state.write('.'); // STOP
        Map<String, byte[]> records = new LinkedHashMap<>();
        records.put("data.pkl", state.toByteArray());
        records.put("code/__torch__.py", source(className, forward).getBytes(StandardCharsets.UTF_8));
        records.put("constants.pkl", new byte[] {(byte) 0x80, 2, ')', '.'}); // an empty tuple
        return TorchArchive.write(className.toLowerCase(java.util.Locale.ROOT), records);
    }

    /**
     * Runs {@code forward} (DJL runs it under no-grad) on the given tensors.
     *
     * @return its one tensor result, owned by {@code step}
     */
    static PtNDArray call(PtSymbolBlock module, PtNDManager step, PtNDArray... inputs) {
        IValue[] in = new IValue[inputs.length];
        try {
            for (int i = 0; i < inputs.length; i++) {
                in[i] = IValue.from(inputs[i]);
            }
            try (IValue out = IValueUtils.forward(module, in)) {
                return out.toTensor(step);
            }
        } finally {
            for (IValue i : in) {
                if (i != null) {
                    i.close();
                }
            }
        }
    }
}
