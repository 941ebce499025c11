package dev.attune.formats.torch;

import dev.attune.error.InvalidCheckpointException;
import dev.attune.ops.DType;
import java.math.BigInteger;
import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A restricted pickle reader for the {@code data.pkl} of a {@code torch.save} archive. It
 * interprets the pickle opcodes as a stack machine over plain data (numbers, strings, tuples,
 * lists, dicts) and knows a fixed set of Python globals: {@code collections.OrderedDict}, the
 * {@code torch._utils} tensor and parameter rebuild functions and the typed {@code torch.*Storage}
 * classes. Calling one of those only builds a Java description ({@link TensorRef}); no Python code
 * exists to run. Any other global, opcode or call is rejected with an {@link
 * InvalidCheckpointException} before anything further is read.
 *
 * <p>Every size is checked against what remains of the input and against fixed limits (stack,
 * marks, memo, container cells, nesting), so a hostile pickle ends in a typed exception, never in
 * an out-of-memory error, a stack overflow or a long loop: each opcode consumes at least one byte
 * and does work bounded by the items it pops.
 */
final class TorchUnpickler {
    /** Largest pickle accepted; a state dict's pickle is a few hundred bytes per tensor. */
    static final int MAX_PICKLE_BYTES = 64 << 20;
    static final int MAX_STACK = 1_000_000;
    static final int MAX_MARKS = 10_000;
    static final int MAX_MEMO = 1_000_000;
    /** Elements held by all containers together. */
    static final long MAX_CELLS = 4_000_000;
    /** Nesting of tuples used as keys or tensor arguments. */
    static final int MAX_TUPLE_DEPTH = 64;
    static final int MAX_DIMS = 64;
    private static final int MAX_LINE = 256;
    private static final int MAX_LONG_BYTES = 64;

    /** A stored tensor's storage, from the pickle's persistent id. */
    record StorageRef(String key, DType dtype, String storageClass, String location, long numel) {}

    /**
     * A tensor as {@code _rebuild_tensor_v2} describes it: a view of a storage.
     *
     * @param storage the storage
     * @param offset first element, in elements
     * @param shape sizes
     * @param stride strides, in elements
     */
    record TensorRef(StorageRef storage, long offset, long[] shape, long[] stride) {}

    /**
     * A Python tuple: immutable; {@code depth} is its nesting of tuples. Whether it can be a dict key
     * is decided once, when it is built, from its items' own flags, so no walk ever descends into a
     * tuple: a tuple shared n times costs n references, not n walks. Tuples that can be keys are
     * interned ({@link #tuple}), so two equal keys are the same object and equality is identity
     * (Java's default {@code equals}/{@code hashCode}): a hostile key made of tuples shared 60 levels
     * deep, which Python itself would hash in 2^60 steps, costs one lookup here.
     */
    private static final class Tuple {
        final Object[] items;
        final int depth;
        final boolean hashable;

        Tuple(Object[] items, int depth, boolean hashable) {
            this.items = items;
            this.depth = depth;
            this.hashable = hashable;
        }
    }

    /** A Python list (identity semantics: lists are never keys). */
    private static final class PyList {
        final List<Object> items = new ArrayList<>();
    }

    /** A Python dict or OrderedDict (identity semantics). */
    private static final class PyDict {
        final Map<Object, Object> items = new LinkedHashMap<>();
    }

    /** Python bytes. */
    private record Bytes(byte[] value) {}

    /** The marker pushed by MARK; never visible as a value. */
    private enum Marker { MARK }

    /** What an allowed global is. */
    private enum Kind { ORDERED_DICT, REBUILD_TENSOR_V2, REBUILD_TENSOR, REBUILD_PARAMETER, REBUILD_PARAMETER_WITH_STATE, STORAGE }

    /** An allowed Python global. */
    private record Global(String qualifiedName, Kind kind, DType dtype) {}

    private static final Map<String, Global> ALLOWED = new HashMap<>();

    static {
        allow("collections.OrderedDict", Kind.ORDERED_DICT, null);
        allow("torch._utils._rebuild_tensor_v2", Kind.REBUILD_TENSOR_V2, null);
        allow("torch._utils._rebuild_tensor", Kind.REBUILD_TENSOR, null);
        allow("torch._utils._rebuild_parameter", Kind.REBUILD_PARAMETER, null);
        allow("torch._utils._rebuild_parameter_with_state", Kind.REBUILD_PARAMETER_WITH_STATE, null);
        allow("torch.FloatStorage", Kind.STORAGE, DType.FLOAT32);
        allow("torch.HalfStorage", Kind.STORAGE, DType.FLOAT16);
        allow("torch.BFloat16Storage", Kind.STORAGE, DType.BFLOAT16);
        allow("torch.LongStorage", Kind.STORAGE, DType.INT64);
        allow("torch.IntStorage", Kind.STORAGE, DType.INT32);
        allow("torch.BoolStorage", Kind.STORAGE, DType.BOOL);
    }

    private static void allow(String name, Kind kind, DType dtype) {
        ALLOWED.put(name, new Global(name, kind, dtype));
    }

    /** Storage classes torch has whose element types Attune does not read. */
    private static final Map<String, String> UNSUPPORTED_STORAGE = Map.of(
            "torch.DoubleStorage", "float64", "torch.ShortStorage", "int16", "torch.CharStorage", "int8",
            "torch.ByteStorage", "uint8", "torch.ComplexFloatStorage", "complex64",
            "torch.ComplexDoubleStorage", "complex128", "torch.UntypedStorage", "untyped bytes",
            "torch.storage.UntypedStorage", "untyped bytes");

    private final String where;
    private final byte[] in;
    private int pos;
    private final ArrayList<Object> stack = new ArrayList<>();
    private final int[] marks = new int[MAX_MARKS];
    private int markCount;
    private final Map<Long, Object> memo = new HashMap<>();
    /** Hashable tuples by their items, so equal keys are one object (see {@link Tuple}). */
    private final Map<List<Object>, Tuple> interned = new HashMap<>();
    /** Stands for None inside an interning key (List.copyOf refuses null). */
    private static final Object NONE = new Object();
    private long cells;

    private TorchUnpickler(String where, byte[] pickle) {
        this.where = where;
        this.in = pickle;
    }

    /**
     * @param where the file and entry, for messages
     * @param pickle the pickle's bytes
     * @return the state dict's tensors by name, in pickle order; entries whose value is not a tensor
     *     are left out
     * @throws InvalidCheckpointException when the pickle is malformed, exceeds a limit, uses an
     *     opcode or global outside the allowed set, or is not a dict of tensors
     */
    static Map<String, TensorRef> readStateDict(String where, byte[] pickle) {
        if (pickle.length > MAX_PICKLE_BYTES) {
            throw new InvalidCheckpointException(where + ": the pickle holds " + pickle.length + " bytes, more than "
                    + "the " + MAX_PICKLE_BYTES + " a state dict of tensors needs; this is not a plain weights file");
        }
        Object result = new TorchUnpickler(where, pickle).run();
        if (!(result instanceof PyDict dict)) {
            throw new InvalidCheckpointException(where + ": the pickle holds " + describe(result) + ", not a state "
                    + "dict (a dict of tensor name -> tensor); save the model's state_dict() or use safetensors");
        }
        Map<String, TensorRef> out = new LinkedHashMap<>();
        List<String> others = new ArrayList<>();
        for (Map.Entry<Object, Object> e : dict.items.entrySet()) {
            if (!(e.getKey() instanceof String name)) {
                throw new InvalidCheckpointException(where + ": state dict key " + describe(e.getKey())
                        + " is not a string; this is not a HuggingFace weights file");
            }
            if (e.getValue() instanceof TensorRef t) {
                out.put(name, t);
            } else if (others.size() < 10) {
                others.add(describe(name) + " (" + describe(e.getValue()) + ")");
            }
        }
        if (out.isEmpty() && !others.isEmpty()) {
            throw new InvalidCheckpointException(where + ": the pickle is a dict without tensors at its top level; "
                    + "its entries are " + String.join(", ", others) + ". A training checkpoint (model, optimizer, "
                    + "...) is not a weights file: save model.state_dict() or use save_pretrained");
        }
        return out;
    }

    private InvalidCheckpointException error(int at, String problem) {
        return new InvalidCheckpointException(where + ": " + problem + " (at byte " + at + " of the pickle); the "
                + "file is corrupt or not a torch.save state dict; re-download it or use the model's safetensors weights");
    }

    private Object run() {
        while (true) {
            if (pos >= in.length) {
                throw error(pos, "the pickle ends without a STOP opcode");
            }
            int at = pos;
            int op = in[pos++] & 0xff;
            switch (op) {
                case 0x80 -> { // PROTO
                    int proto = u8(at);
                    if (proto > 5) {
                        throw error(at, "pickle protocol " + proto + " is unknown");
                    }
                }
                case 0x95 -> { // FRAME: an 8-byte length that only helps buffering
                    long len = s64(at);
                    if (len < 0 || len > in.length - pos) {
                        throw error(at, "a frame of " + Long.toUnsignedString(len) + " bytes reaches past the end");
                    }
                }
                case '.' -> { // STOP
                    if (markCount != 0 || stack.size() != 1) {
                        throw error(at, "STOP with " + stack.size() + " values and " + markCount + " marks left");
                    }
                    return stack.get(0);
                }
                case '(' -> {
                    if (markCount == MAX_MARKS) {
                        throw error(at, "more than " + MAX_MARKS + " nested marks");
                    }
                    marks[markCount++] = stack.size();
                }
                case '0' -> pop(at);
                case '1' -> popMark(at);
                case '2' -> push(at, peek(at));
                case 'N' -> push(at, null);
                case 0x88 -> push(at, Boolean.TRUE);
                case 0x89 -> push(at, Boolean.FALSE);
                case 'J' -> push(at, (long) s32(at));
                case 'K' -> push(at, (long) u8(at));
                case 'M' -> push(at, (long) u16(at));
                case 0x8a -> push(at, longBytes(at, u8(at)));
                case 0x8b -> {
                    int n = s32(at);
                    if (n < 0 || n > MAX_LONG_BYTES) {
                        throw error(at, "an integer of " + n + " bytes is not a tensor size or offset");
                    }
                    push(at, longBytes(at, n));
                }
                case 'I' -> push(at, textInt(at, line(at)));
                case 'L' -> {
                    String s = line(at);
                    push(at, textInt(at, s.endsWith("L") ? s.substring(0, s.length() - 1) : s));
                }
                case 'F' -> {
                    String s = line(at);
                    try {
                        push(at, Double.parseDouble(s));
                    } catch (NumberFormatException e) {
                        throw error(at, "FLOAT '" + clip(s) + "' is not a number");
                    }
                }
                case 'G' -> push(at, Double.longBitsToDouble(Long.reverseBytes(s64(at))));
                case 'X' -> push(at, utf8(at, u32(at)));
                case 0x8c -> push(at, utf8(at, u8(at)));
                case 0x8d -> push(at, utf8(at, s64(at)));
                case 'T' -> push(at, utf8(at, s32(at)));
                case 'U' -> push(at, utf8(at, u8(at)));
                case 'B' -> push(at, new Bytes(take(at, u32(at))));
                case 'C' -> push(at, new Bytes(take(at, u8(at))));
                case 0x8e -> push(at, new Bytes(take(at, s64(at))));
                case '}' -> push(at, new PyDict());
                case ']' -> push(at, new PyList());
                case ')' -> push(at, tuple(at, List.of()));
                case 'd' -> {
                    List<Object> items = popToMark(at);
                    if (items.size() % 2 != 0) {
                        throw error(at, "DICT with an odd number of items");
                    }
                    PyDict d = new PyDict();
                    for (int i = 0; i < items.size(); i += 2) {
                        put(at, d, items.get(i), items.get(i + 1));
                    }
                    push(at, d);
                }
                case 'l' -> {
                    PyList l = new PyList();
                    l.items.addAll(popToMark(at));
                    addCells(at, l.items.size());
                    push(at, l);
                }
                case 't' -> push(at, tuple(at, popToMark(at)));
                case 0x85 -> push(at, tuple(at, box(pop(at))));
                case 0x86 -> {
                    Object b = pop(at);
                    Object a = pop(at);
                    push(at, tuple(at, Arrays.asList(a, b)));
                }
                case 0x87 -> {
                    Object c = pop(at);
                    Object b = pop(at);
                    Object a = pop(at);
                    push(at, tuple(at, Arrays.asList(a, b, c)));
                }
                case 's' -> {
                    Object v = pop(at);
                    Object k = pop(at);
                    put(at, dictOnTop(at, "SETITEM"), k, v);
                }
                case 'u' -> {
                    List<Object> items = popToMark(at);
                    if (items.size() % 2 != 0) {
                        throw error(at, "SETITEMS with an odd number of items");
                    }
                    PyDict d = dictOnTop(at, "SETITEMS");
                    for (int i = 0; i < items.size(); i += 2) {
                        put(at, d, items.get(i), items.get(i + 1));
                    }
                }
                case 'a' -> {
                    Object v = pop(at);
                    PyList l = listOnTop(at, "APPEND");
                    addCells(at, 1);
                    l.items.add(v);
                }
                case 'e' -> {
                    List<Object> items = popToMark(at);
                    PyList l = listOnTop(at, "APPENDS");
                    addCells(at, items.size());
                    l.items.addAll(items);
                }
                case 'p' -> memoPut(at, textIndex(at, line(at)));
                case 'q' -> memoPut(at, u8(at));
                case 'r' -> memoPut(at, u32(at));
                case 0x94 -> memoPut(at, memo.size());
                case 'g' -> memoGet(at, textIndex(at, line(at)));
                case 'h' -> memoGet(at, u8(at));
                case 'j' -> memoGet(at, u32(at));
                case 'c' -> {
                    String module = line(at);
                    String name = line(at);
                    push(at, global(at, module, name));
                }
                case 0x93 -> {
                    Object name = pop(at);
                    Object module = pop(at);
                    if (!(module instanceof String m) || !(name instanceof String n)) {
                        throw error(at, "STACK_GLOBAL needs two strings, found " + describe(module) + " and "
                                + describe(name));
                    }
                    push(at, global(at, m, n));
                }
                case 'Q' -> push(at, persistentLoad(at, pop(at)));
                case 'R' -> {
                    Object args = pop(at);
                    Object callable = pop(at);
                    push(at, call(at, callable, args));
                }
                case 0x81 -> { // NEWOBJ: cls.__new__(cls, *args)
                    Object args = pop(at);
                    Object cls = pop(at);
                    if (!(cls instanceof Global g) || g.kind != Kind.ORDERED_DICT) {
                        throw error(at, "NEWOBJ of " + describe(cls) + " is not part of a state dict");
                    }
                    push(at, call(at, cls, args));
                }
                case 'b' -> { // BUILD: obj.__setstate__(state)
                    Object state = pop(at);
                    Object target = peek(at);
                    if (!(target instanceof PyDict)) {
                        throw error(at, "BUILD (setting the state of an object) on " + describe(target)
                                + " is not part of a state dict");
                    }
                    // the state of an OrderedDict is its attributes, such as a state dict's _metadata
                    // (module versions); tensors do not need it
                    if (!(state instanceof PyDict) && !(state instanceof Tuple) && state != null) {
                        throw error(at, "BUILD of a dict with state " + describe(state) + " is not part of a state dict");
                    }
                }
                default -> throw error(at, opcodeProblem(op));
            }
        }
    }

    private static String opcodeProblem(int op) {
        String name = switch (op) {
            case 'i' -> "INST (creates an object of a named class)";
            case 'o' -> "OBJ (creates an object of a class)";
            case 0x92 -> "NEWOBJ_EX (creates an object of a class)";
            case 0x82, 0x83, 0x84 -> "EXT (loads a registered extension)";
            case 'P' -> "PERSID with a text id";
            case 'V' -> "UNICODE (text string)";
            case 'S' -> "STRING (quoted text string)";
            case 0x8f, 0x90, 0x91 -> "a set opcode";
            case 0x96, 0x97, 0x98 -> "a byte-array or out-of-band buffer opcode";
            default -> null;
        };
        return name != null
                ? "opcode " + name + " is not used by a state dict of tensors and is refused"
                : String.format("unknown pickle opcode 0x%02x", op);
    }

    private Global global(int at, String module, String name) {
        String qualified = module + "." + name;
        Global g = ALLOWED.get(qualified);
        if (g != null) {
            return g;
        }
        String unsupported = UNSUPPORTED_STORAGE.get(qualified);
        if (unsupported != null) {
            throw new InvalidCheckpointException(where + ": the checkpoint stores tensors of type " + unsupported
                    + " (" + clip(qualified) + "); Attune reads float32, float16, bfloat16, int64, int32 and bool. "
                    + "Convert it in Python: model.to(torch.float32).save_pretrained(folder)");
        }
        String alias = switch (qualified) {
            case "posix.system", "nt.system" -> " (os.system, which runs a shell command)";
            default -> "";
        };
        throw new InvalidCheckpointException(where + ": the pickle refers to the Python global '" + clip(qualified)
                + "'" + alias + " at byte " + at + ". A state dict of tensors never needs it, so the file was "
                + "rejected and nothing in it was executed (Attune never runs pickle code; it knows only "
                + "OrderedDict, torch tensor rebuilds and torch storages). Such a file may be malicious: load "
                + "weights only from sources you trust, preferably as safetensors");
    }

    private Object call(int at, Object callable, Object argsObj) {
        if (!(callable instanceof Global g) || g.kind == Kind.STORAGE) {
            throw error(at, "calling " + describe(callable) + " is not part of a state dict");
        }
        if (!(argsObj instanceof Tuple t)) {
            throw error(at, "the arguments of " + g.qualifiedName + " are " + describe(argsObj) + ", not a tuple");
        }
        Object[] args = t.items;
        switch (g.kind) {
            case ORDERED_DICT -> {
                if (args.length != 0) {
                    throw error(at, "OrderedDict is called with " + args.length + " arguments; a state dict "
                            + "pickle calls it with none");
                }
                return new PyDict();
            }
            case REBUILD_TENSOR_V2, REBUILD_TENSOR -> {
                boolean v2 = g.kind == Kind.REBUILD_TENSOR_V2;
                if (v2 ? args.length < 6 || args.length > 7 : args.length != 4) {
                    throw error(at, g.qualifiedName + " is called with " + args.length + " arguments");
                }
                if (!(args[0] instanceof StorageRef storage)) {
                    throw error(at, g.qualifiedName + " needs a storage, found " + describe(args[0]));
                }
                long offset = nonNegative(at, "storage offset", args[1]);
                long[] shape = longs(at, "size", args[2]);
                long[] stride = longs(at, "stride", args[3]);
                if (shape.length != stride.length) {
                    throw error(at, "a tensor has size of " + shape.length + " dimensions but stride of " + stride.length);
                }
                if (v2 && !(args[4] instanceof Boolean)) {
                    throw error(at, "requires_grad is " + describe(args[4]) + ", not a bool");
                }
                return new TensorRef(storage, offset, shape, stride);
            }
            case REBUILD_PARAMETER, REBUILD_PARAMETER_WITH_STATE -> {
                int expected = g.kind == Kind.REBUILD_PARAMETER ? 3 : 4;
                if (args.length != expected || !(args[0] instanceof TensorRef tensor)) {
                    throw error(at, g.qualifiedName + " needs a tensor and " + (expected - 1) + " more arguments");
                }
                return tensor;
            }
            default -> throw error(at, "calling " + g.qualifiedName + " is not part of a state dict");
        }
    }

    private StorageRef persistentLoad(int at, Object pid) {
        if (!(pid instanceof Tuple t) || t.items.length != 5 || !"storage".equals(t.items[0])) {
            throw error(at, "persistent id " + describe(pid) + " is not ('storage', type, key, location, numel)");
        }
        Object[] p = t.items;
        if (!(p[1] instanceof Global g) || g.kind != Kind.STORAGE) {
            throw error(at, "persistent id names storage type " + describe(p[1]));
        }
        if (!(p[2] instanceof String key) || !key.matches("[A-Za-z0-9_]{1,64}")) {
            throw error(at, "storage key " + describe(p[2]) + " is not a short name of letters and digits");
        }
        if (!(p[3] instanceof String location)) {
            throw error(at, "storage location " + describe(p[3]) + " is not a string");
        }
        long numel = nonNegative(at, "storage size", p[4]);
        return new StorageRef(key, g.dtype, g.qualifiedName, clip(location), numel);
    }

    // ---- helpers ----

    private long nonNegative(int at, String what, Object v) {
        if (!(v instanceof Long l) || l < 0) {
            throw error(at, what + " " + describe(v) + " is not a non-negative integer");
        }
        return l;
    }

    private long[] longs(int at, String what, Object v) {
        if (!(v instanceof Tuple t)) {
            throw error(at, "tensor " + what + " " + describe(v) + " is not a tuple");
        }
        if (t.items.length > MAX_DIMS) {
            throw error(at, "tensor " + what + " has " + t.items.length + " dimensions, more than " + MAX_DIMS);
        }
        long[] out = new long[t.items.length];
        for (int i = 0; i < out.length; i++) {
            out[i] = nonNegative(at, "tensor " + what + " element", t.items[i]);
        }
        return out;
    }

    private Tuple tuple(int at, List<Object> items) {
        int depth = 1;
        boolean hashable = true;
        for (Object o : items) {
            if (o instanceof Tuple t) {
                depth = Math.max(depth, t.depth + 1);
            }
            hashable &= hashable(o); // never descends: a tuple's flag was set when it was built
        }
        if (depth > MAX_TUPLE_DEPTH) {
            throw error(at, "tuples nested more than " + MAX_TUPLE_DEPTH + " deep");
        }
        addCells(at, items.size());
        if (!hashable) {
            return new Tuple(items.toArray(), depth, false);
        }
        // items are strings, numbers and interned tuples, so List's equals and hashCode look at
        // this one level only (an interned tuple compares by identity)
        List<Object> key = List.copyOf(items.stream().map(o -> o == null ? NONE : o).toList());
        Tuple known = interned.get(key);
        if (known != null) {
            return known;
        }
        Tuple t = new Tuple(items.toArray(), depth, true);
        interned.put(key, t);
        return t;
    }

    private static List<Object> box(Object o) {
        List<Object> l = new ArrayList<>(1);
        l.add(o);
        return l;
    }

    private void put(int at, PyDict d, Object key, Object value) {
        if (!hashable(key)) {
            throw error(at, "dict key " + describe(key) + " is not a string, number or tuple of them");
        }
        addCells(at, 2);
        d.items.put(key, value);
    }

    /** Whether a value can be a dict key; constant time (a tuple's answer was fixed when it was built). */
    private static boolean hashable(Object k) {
        if (k == null || k instanceof String || k instanceof Long || k instanceof BigInteger || k instanceof Boolean) {
            return true;
        }
        if (k instanceof Tuple t) {
            return t.hashable;
        }
        return false; // floats (NaN keys), bytes, lists, dicts, storages, tensors
    }

    private PyDict dictOnTop(int at, String op) {
        Object top = peek(at);
        if (!(top instanceof PyDict d)) {
            throw error(at, op + " on " + describe(top) + ", not a dict");
        }
        return d;
    }

    private PyList listOnTop(int at, String op) {
        Object top = peek(at);
        if (!(top instanceof PyList l)) {
            throw error(at, op + " on " + describe(top) + ", not a list");
        }
        return l;
    }

    private void addCells(int at, long n) {
        cells += n;
        if (cells > MAX_CELLS) {
            throw error(at, "containers hold more than " + MAX_CELLS + " items");
        }
    }

    private void memoPut(int at, long index) {
        if (index < 0) {
            throw error(at, "memo index " + index + " is negative");
        }
        if (memo.size() >= MAX_MEMO && !memo.containsKey(index)) {
            throw error(at, "more than " + MAX_MEMO + " memo entries");
        }
        memo.put(index, peek(at));
    }

    private void memoGet(int at, long index) {
        if (!memo.containsKey(index)) {
            throw error(at, "memo index " + index + " was never stored");
        }
        push(at, memo.get(index));
    }

    private void push(int at, Object o) {
        if (stack.size() >= MAX_STACK) {
            throw error(at, "the stack grows past " + MAX_STACK + " values");
        }
        stack.add(o);
    }

    private Object pop(int at) {
        int floor = markCount == 0 ? 0 : marks[markCount - 1];
        if (stack.size() <= floor) {
            throw error(at, "an opcode pops from an empty stack");
        }
        return stack.remove(stack.size() - 1);
    }

    private Object peek(int at) {
        int floor = markCount == 0 ? 0 : marks[markCount - 1];
        if (stack.size() <= floor) {
            throw error(at, "an opcode reads an empty stack");
        }
        return stack.get(stack.size() - 1);
    }

    private void popMark(int at) {
        if (markCount == 0) {
            throw error(at, "POP_MARK without a MARK");
        }
        int m = marks[--markCount];
        stack.subList(m, stack.size()).clear();
    }

    private List<Object> popToMark(int at) {
        if (markCount == 0) {
            throw error(at, "an opcode needs a MARK that is not there");
        }
        int m = marks[--markCount];
        List<Object> tail = stack.subList(m, stack.size());
        List<Object> items = new ArrayList<>(tail);
        tail.clear();
        return items;
    }

    private void need(int at, long n) {
        if (n < 0 || n > in.length - pos) {
            throw error(at, "an opcode's argument of " + n + " bytes reaches past the end of the pickle ("
                    + (in.length - pos) + " bytes left)");
        }
    }

    private int u8(int at) {
        need(at, 1);
        return in[pos++] & 0xff;
    }

    private int u16(int at) {
        need(at, 2);
        int v = (in[pos] & 0xff) | (in[pos + 1] & 0xff) << 8;
        pos += 2;
        return v;
    }

    private int s32(int at) {
        need(at, 4);
        int v = (in[pos] & 0xff) | (in[pos + 1] & 0xff) << 8 | (in[pos + 2] & 0xff) << 16 | (in[pos + 3] & 0xff) << 24;
        pos += 4;
        return v;
    }

    private long u32(int at) {
        return s32(at) & 0xffffffffL;
    }

    private long s64(int at) {
        need(at, 8);
        long v = 0;
        for (int i = 7; i >= 0; i--) {
            v = v << 8 | (in[pos + i] & 0xff);
        }
        pos += 8;
        return v;
    }

    private byte[] take(int at, long n) {
        need(at, n);
        byte[] b = Arrays.copyOfRange(in, pos, pos + (int) n);
        pos += (int) n;
        return b;
    }

    private String utf8(int at, long n) {
        byte[] b = take(at, n);
        try {
            CharBuffer chars = StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(ByteBuffer.wrap(b));
            return chars.toString();
        } catch (CharacterCodingException e) {
            throw error(at, "a string is not valid UTF-8");
        }
    }

    private String line(int at) {
        int end = pos;
        while (end < in.length && in[end] != '\n') {
            if (end - pos >= MAX_LINE) {
                throw error(at, "a text argument is longer than " + MAX_LINE + " bytes");
            }
            end++;
        }
        if (end >= in.length) {
            throw error(at, "a text argument has no end of line");
        }
        String s = new String(in, pos, end - pos, StandardCharsets.US_ASCII);
        pos = end + 1;
        return s;
    }

    private Object textInt(int at, String s) {
        if ("00".equals(s)) {
            return Boolean.FALSE;
        }
        if ("01".equals(s)) {
            return Boolean.TRUE;
        }
        try {
            return Long.parseLong(s.strip());
        } catch (NumberFormatException e) {
            throw error(at, "'" + clip(s) + "' is not an integer of at most 64 bits");
        }
    }

    private long textIndex(int at, String s) {
        try {
            return Long.parseLong(s.strip());
        } catch (NumberFormatException e) {
            throw error(at, "memo index '" + clip(s) + "' is not an integer");
        }
    }

    /** Little-endian two's complement, as LONG1 and LONG4 store it; a Long when it fits. */
    private Object longBytes(int at, int n) {
        byte[] le = take(at, n);
        if (n == 0) {
            return 0L;
        }
        byte[] be = new byte[n];
        for (int i = 0; i < n; i++) {
            be[i] = le[n - 1 - i];
        }
        BigInteger v = new BigInteger(be);
        return v.bitLength() < 64 ? (Object) v.longValue() : v;
    }

    private static String clip(String s) {
        return s.length() <= 100 ? s : s.substring(0, 100) + "...";
    }

    /** A short description of a value for messages; never recursive. */
    static String describe(Object o) {
        if (o == null) {
            return "None";
        }
        if (o instanceof String s) {
            return "'" + clip(s) + "'";
        }
        if (o instanceof Long || o instanceof Boolean || o instanceof Double) {
            return o.toString();
        }
        if (o instanceof BigInteger b) {
            return "an integer of " + b.bitLength() + " bits";
        }
        if (o instanceof Tuple t) {
            return "a tuple of " + t.items.length;
        }
        if (o instanceof PyList l) {
            return "a list of " + l.items.size();
        }
        if (o instanceof PyDict d) {
            return "a dict of " + d.items.size();
        }
        if (o instanceof Bytes b) {
            return b.value().length + " bytes";
        }
        if (o instanceof Global g) {
            return g.qualifiedName;
        }
        if (o instanceof StorageRef) {
            return "a storage";
        }
        if (o instanceof TensorRef) {
            return "a tensor";
        }
        return o.getClass().getSimpleName();
    }
}
