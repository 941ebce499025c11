package dev.attune.formats.hf;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Builds a small SentencePiece {@code precompiled_charsmap} for tests: a double-array trie in the
 * layout the tokenizers library reads (each trie node a block of 256 units, so every byte from
 * every node stays inside the array), then the replacement strings, each ended by NUL.
 */
final class TinyCharsmap {
    private TinyCharsmap() {}

    /** A trie node: children by byte, and the replacement a key ending here maps to. */
    private static final class Node {
        final TreeMap<Integer, Node> children = new TreeMap<>();
        Integer value; // offset of the replacement in the strings
        int block;
    }

    /**
     * @param replacements key text -> replacement text
     * @return the charsmap bytes
     */
    static byte[] build(Map<String, String> replacements) {
        ByteArrayOutputStream strings = new ByteArrayOutputStream();
        Node root = new Node();
        for (Map.Entry<String, String> e : replacements.entrySet()) {
            Node n = root;
            for (byte b : e.getKey().getBytes(StandardCharsets.UTF_8)) {
                n = n.children.computeIfAbsent(b & 0xff, k -> new Node());
            }
            n.value = strings.size();
            strings.writeBytes(e.getValue().getBytes(StandardCharsets.UTF_8));
            strings.write(0);
        }
        // block 0 holds unit 0 (the root's pointer); nodes get blocks 1, 2, ... breadth first
        List<Node> order = new ArrayList<>();
        order.add(root);
        for (int i = 0; i < order.size(); i++) {
            order.get(i).block = i + 1;
            order.addAll(order.get(i).children.values());
        }
        long[] units = new long[256 * (order.size() + 1)];
        units[0] = (256L * root.block) << 10; // offset of the root's block
        for (Node n : order) {
            int base = 256 * n.block;
            for (Map.Entry<Integer, Node> c : n.children.entrySet()) {
                int pos = base ^ c.getKey();
                Node child = c.getValue();
                long offset = pos ^ (256L * child.block);
                units[pos] = offset << 10 | (child.value != null ? 1L << 8 : 0) | c.getKey();
                if (child.value != null) {
                    units[256 * child.block] = 1L << 31 | child.value; // the leaf: label 0, never a child
                }
            }
        }
        byte[] s = strings.toByteArray();
        ByteBuffer out = ByteBuffer.allocate(4 + 4 * units.length + s.length).order(ByteOrder.LITTLE_ENDIAN);
        out.putInt(4 * units.length);
        for (long u : units) {
            out.putInt((int) u);
        }
        out.put(s);
        return out.array();
    }

    /** Full-width letters, ligatures, a no-break space and an accent: what NFKC-style tables map. */
    static Map<String, String> sample() {
        Map<String, String> m = new LinkedHashMap<>();
        m.put("\uff21", "A");
        m.put("\uff42", "b");
        m.put("\ufb01", "fi");
        m.put("\u00a0", " ");
        m.put("\u2168", "IX");
        m.put("e\u0301", "\u00e9");
        return m;
    }
}
