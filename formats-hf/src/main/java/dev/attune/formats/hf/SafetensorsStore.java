package dev.attune.formats.hf;

import org.apiguardian.api.API;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.attune.error.InvalidCheckpointException;
import dev.attune.model.WeightStore.TensorInfo;
import dev.attune.model.WeightStore;
import dev.attune.ops.TensorData;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The tensors of a HuggingFace checkpoint in safetensors format: a single {@code
 * model.safetensors}, or shards listed by {@code model.safetensors.index.json}. Every header is
 * validated when the store opens; data is memory-mapped per tensor on {@link #read}. Safe for
 * concurrent reads.
 */
@API(status = API.Status.INTERNAL, since = "0.1")
public final class SafetensorsStore implements WeightStore {
    /** File name of a single-file checkpoint. */
    public static final String SINGLE_FILE = "model.safetensors";
    /** File name of the index of a sharded checkpoint. */
    public static final String INDEX_FILE = "model.safetensors.index.json";

    private static final Logger LOG = LoggerFactory.getLogger(SafetensorsStore.class);
    private static final ObjectMapper JSON =
            new ObjectMapper().enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION);

    private final String origin;
    private final List<SafetensorsFile> files;
    private final Map<String, SafetensorsFile> fileByName;
    private final Set<String> names;

    private SafetensorsStore(String origin, List<SafetensorsFile> files, Map<String, SafetensorsFile> fileByName) {
        this.origin = origin;
        this.files = List.copyOf(files);
        this.fileByName = fileByName;
        this.names = Collections.unmodifiableSet(new LinkedHashSet<>(fileByName.keySet()));
    }

    /**
     * @param directory a model folder
     * @return whether it holds a single-file or sharded safetensors checkpoint
     */
    public static boolean isPresent(Path directory) {
        return Files.isRegularFile(directory.resolve(SINGLE_FILE)) || Files.isRegularFile(directory.resolve(INDEX_FILE));
    }

    /**
     * Opens the checkpoint of a model folder, preferring {@value #SINGLE_FILE} over the sharded
     * index as HuggingFace transformers does.
     *
     * @param directory a model folder
     * @return the store
     * @throws InvalidCheckpointException when neither file exists or a file is invalid
     */
    public static SafetensorsStore open(Path directory) {
        Path single = directory.resolve(SINGLE_FILE);
        if (Files.isRegularFile(single)) {
            return openFile(single);
        }
        Path index = directory.resolve(INDEX_FILE);
        if (Files.isRegularFile(index)) {
            return openIndex(index);
        }
        throw new InvalidCheckpointException(directory + ": no " + SINGLE_FILE + " or " + INDEX_FILE
                + " found" + otherWeightsHint(directory) + "; download the safetensors weights of the model "
                + "into this folder");
    }

    /**
     * @param file one safetensors file
     * @return a store of its tensors
     */
    public static SafetensorsStore openFile(Path file) {
        SafetensorsFile f = SafetensorsFile.open(file);
        Map<String, SafetensorsFile> byName = new LinkedHashMap<>();
        for (String name : f.names()) {
            byName.put(name, f);
        }
        LOG.debug("opened {} ({} tensors)", file, byName.size());
        return new SafetensorsStore(file.toString(), List.of(f), byName);
    }

    /**
     * Opens a sharded checkpoint, checking that every shard exists and holds the tensors the
     * index assigns to it.
     *
     * @param indexFile a {@code model.safetensors.index.json}
     * @return a store of the tensors the index lists
     */
    public static SafetensorsStore openIndex(Path indexFile) {
        Map<String, String> weightMap = readWeightMap(indexFile);
        Path dir = indexFile.toAbsolutePath().normalize().getParent();
        Map<String, SafetensorsFile> shards = new LinkedHashMap<>();
        try {
            Map<String, SafetensorsFile> byName = new LinkedHashMap<>();
            for (Map.Entry<String, String> e : weightMap.entrySet()) {
                String shardName = e.getValue();
                SafetensorsFile shard = shards.get(shardName);
                if (shard == null) {
                    Path shardPath;
                    try {
                        shardPath = dir.resolve(shardName).normalize();
                    } catch (InvalidPathException ex) {
                        throw new InvalidCheckpointException(indexFile + ": weight_map entry '" + e.getKey()
                                + "' names shard '" + shardName + "', which is not a valid file name ("
                                + ex.getReason() + "); fix or re-download the index", ex);
                    }
                    if (!shardPath.startsWith(dir)) {
                        throw new InvalidCheckpointException(indexFile + ": weight_map entry '" + e.getKey()
                                + "' names shard '" + shardName + "' outside the model folder; fix or re-download the index");
                    }
                    if (!Files.isRegularFile(shardPath)) {
                        throw new InvalidCheckpointException(indexFile + ": shard '" + shardName + "' (listed for '"
                                + e.getKey() + "') is missing at " + shardPath + "; download every shard of the model");
                    }
                    shard = SafetensorsFile.open(shardPath);
                    shards.put(shardName, shard);
                }
                if (shard.entry(e.getKey()) == null) {
                    throw new InvalidCheckpointException(indexFile + ": tensor '" + e.getKey() + "' is listed in shard '"
                            + shardName + "' but " + shard.path() + " does not hold it; the index and shards do not "
                            + "match, re-download the checkpoint");
                }
                byName.put(e.getKey(), shard);
            }
            for (SafetensorsFile shard : shards.values()) {
                for (String name : shard.names()) {
                    if (!byName.containsKey(name)) {
                        LOG.warn("{}: tensor '{}' in {} is not listed in the index and is ignored", indexFile, name, shard.path());
                    }
                }
            }
            LOG.debug("opened {} ({} tensors in {} shards)", indexFile, byName.size(), shards.size());
            return new SafetensorsStore(indexFile.toString(), new ArrayList<>(shards.values()), byName);
        } catch (RuntimeException ex) {
            shards.values().forEach(SafetensorsFile::close);
            throw ex;
        }
    }

    private static Map<String, String> readWeightMap(Path indexFile) {
        JsonNode root;
        try {
            root = JSON.readTree(Files.readAllBytes(indexFile));
        } catch (NoSuchFileException e) {
            throw new InvalidCheckpointException(indexFile + ": file not found; re-download the checkpoint", e);
        } catch (JsonProcessingException e) {
            throw new InvalidCheckpointException(indexFile + ": not valid JSON (" + e.getOriginalMessage()
                    + "); re-download the checkpoint", e);
        } catch (IOException e) {
            throw new InvalidCheckpointException(indexFile + ": cannot be read (" + e + ")", e);
        }
        JsonNode map = root == null ? null : root.get("weight_map");
        if (map == null || !map.isObject()) {
            throw new InvalidCheckpointException(indexFile + ": no 'weight_map' object of tensor name -> shard file; "
                    + "re-download the checkpoint");
        }
        Map<String, String> out = new LinkedHashMap<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = map.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            if (!e.getValue().isTextual() || e.getValue().textValue().isEmpty()) {
                throw new InvalidCheckpointException(indexFile + ": weight_map entry '" + e.getKey()
                        + "' must name a shard file, found " + e.getValue() + "; re-download the checkpoint");
            }
            out.put(e.getKey(), e.getValue().textValue());
        }
        if (out.isEmpty()) {
            throw new InvalidCheckpointException(indexFile + ": weight_map is empty; re-download the checkpoint");
        }
        return out;
    }

    private static String otherWeightsHint(Path dir) {
        for (String other : new String[] {"pytorch_model.bin.index.json", "tf_model.h5"}) {
            if (Files.exists(dir.resolve(other))) {
                return " (there is a " + other + ", which this loader does not read; convert it with Python "
                        + "transformers: AutoModel.from_pretrained(folder).save_pretrained(folder, safe_serialization=True))";
            }
        }
        return "";
    }

    @Override
    public Set<String> names() {
        return names;
    }

    @Override
    public TensorInfo info(String name) {
        SafetensorsFile.Entry e = entry(name);
        return new TensorInfo(name, e.dtype(), e.shape().clone());
    }

    @Override
    public TensorData read(String name) {
        return fileByName.get(name).read(entry(name));
    }

    private SafetensorsFile.Entry entry(String name) {
        SafetensorsFile f = fileByName.get(name);
        if (f == null) {
            throw new InvalidCheckpointException(origin + ": no tensor named '" + name + "' (" + names.size()
                    + " tensors present); check that the checkpoint matches the model type and its naming");
        }
        return f.entry(name);
    }

    @Override
    public String origin() {
        return origin;
    }

    @Override
    public void close() {
        files.forEach(SafetensorsFile::close);
    }

    @Override
    public String toString() {
        return "SafetensorsStore(" + origin + ", " + names.size() + " tensors)";
    }
}
