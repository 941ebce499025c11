package dev.attune.ops;

import org.apiguardian.api.API;

import dev.attune.ops.Parameter.Init;

import java.util.Collection;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;

/**
 * The parameters of one model definition in declaration order, plus tied names: a tied name (for
 * example GPT-2's {@code lm_head.weight}) is saved and loaded as an alias of another parameter.
 */
@API(status = API.Status.STABLE, since = "0.1")
public final class ParameterSet {
    private final Map<String, Parameter> byName = new LinkedHashMap<>();
    private final Map<String, String> tied = new LinkedHashMap<>();

    /** Creates an empty set. */
    public ParameterSet() {}

    /**
     * Adds a parameter.
     *
     * @param p the parameter
     * @return {@code p}
     * @throws IllegalArgumentException when the name is taken
     */
    public Parameter add(Parameter p) {
        if (byName.putIfAbsent(p.name(), p) != null || tied.containsKey(p.name())) {
            throw new IllegalArgumentException("duplicate parameter name " + p.name());
        }
        return p;
    }

    /**
     * Declares {@code alias} as the same tensor as {@code target}.
     *
     * @param alias the tied name
     * @param target an existing parameter
     */
    public void tie(String alias, Parameter target) {
        if (!byName.containsKey(target.name())) {
            throw new IllegalArgumentException("cannot tie " + alias + " to undeclared " + target.name());
        }
        tied.put(alias, target.name());
    }

    /** @return the parameters in declaration order */
    public Collection<Parameter> all() {
        return Collections.unmodifiableCollection(byName.values());
    }

    /**
     * @param name a parameter name
     * @return the parameter, if declared
     */
    public Optional<Parameter> get(String name) {
        return Optional.ofNullable(byName.get(name));
    }

    /** @return tied alias to target name */
    public Map<String, String> tiedNames() {
        return Collections.unmodifiableMap(tied);
    }

    /** @return number of parameters (not counting aliases) */
    public int size() {
        return byName.size();
    }

    /** @return total element count */
    public long elementCount() {
        long n = 0;
        for (Parameter p : byName.values()) {
            n += p.size();
        }
        return n;
    }

    /**
     * Declares parameters under a dotted HuggingFace name prefix, so that a model's class tree mirrors
     * its parameter tree: {@code root.child("bert").child("embeddings")} declares {@code
     * bert.embeddings.word_embeddings.weight} and so on.
     */
    @API(status = API.Status.STABLE, since = "0.1")
    public static final class Scope {
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
}
