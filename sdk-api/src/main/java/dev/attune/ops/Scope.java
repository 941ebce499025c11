package dev.attune.ops;

/**
 * Declares parameters under a dotted HuggingFace name prefix, so that a model's class tree mirrors
 * its parameter tree: {@code root.child("bert").child("embeddings")} declares {@code
 * bert.embeddings.word_embeddings.weight} and so on.
 */
public final class Scope {
    private final ParameterSet set;
    private final String prefix;

    private Scope(ParameterSet set, String prefix) {
        this.set = set;
        this.prefix = prefix;
    }

    /**
     * @param set where declared parameters go
     * @return the root scope (empty prefix)
     */
    public static Scope root(ParameterSet set) {
        return new Scope(set, "");
    }

    /**
     * @param name one path element (a module attribute name, or a layer index)
     * @return a nested scope
     */
    public Scope child(String name) {
        return new Scope(set, qualify(name));
    }

    /**
     * @param index a layer index in a module list
     * @return a nested scope named by the index
     */
    public Scope child(int index) {
        return child(Integer.toString(index));
    }

    /**
     * Declares a parameter.
     *
     * @param name the last path element ({@code weight}, {@code bias})
     * @param init how to initialise it when the checkpoint lacks it
     * @param decay whether weight decay applies
     * @param shape dimensions
     * @return the declared parameter
     */
    public Parameter param(String name, Init init, boolean decay, long... shape) {
        return set.add(new Parameter(qualify(name), shape, init, decay));
    }

    /** @return the parameter set this scope declares into */
    public ParameterSet parameters() {
        return set;
    }

    /**
     * @param name a path element
     * @return the fully qualified name under this scope
     */
    public String qualify(String name) {
        return prefix.isEmpty() ? name : prefix + "." + name;
    }
}
