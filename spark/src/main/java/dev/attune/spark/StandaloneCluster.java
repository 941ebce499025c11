package dev.attune.spark;

import dev.attune.error.AttuneException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apiguardian.api.API;

/**
 * A Spark standalone cluster on 127.0.0.1 made of child JVMs of this one: a master and {@code N}
 * workers, each worker launching its executors as JVMs of their own, all on this JVM's class path
 * (no Spark distribution needed). For tests and benchmarks of Attune on a real multi-process
 * cluster; {@link #close} stops every process it started.
 */
@API(status = API.Status.EXPERIMENTAL, since = "0.2")
public final class StandaloneCluster implements AutoCloseable {
    private final List<Process> processes = new ArrayList<>();
    private final Path home;
    private final String masterUrl;
    private final int webPort;

    private StandaloneCluster(Path home, String masterUrl, int webPort) {
        this.home = home;
        this.masterUrl = masterUrl;
        this.webPort = webPort;
    }

    /**
     * Starts a master and {@code workers} workers and waits until every worker has registered.
     *
     * @param workers workers (one executor each per application)
     * @param coresPerWorker cores each worker offers
     * @param memoryMb memory each worker offers (an executor's heap fits in it)
     * @param logs folder for the processes' logs
     * @return the running cluster
     * @throws AttuneException when it does not come up within two minutes (the logs' folder named)
     */
    public static StandaloneCluster start(int workers, int coresPerWorker, int memoryMb, Path logs) {
        try {
            Files.createDirectories(logs);
            // Spark's launcher builds an executor's class path from SPARK_HOME/jars (here empty) and
            // spark.executor.extraClassPath: the driver's own class path
            Path home = Files.createTempDirectory("attune-spark-home");
            Files.createDirectories(home.resolve("jars"));
            int port = freePort();
            int web = freePort();
            StandaloneCluster c = new StandaloneCluster(home, "spark://127.0.0.1:" + port, web);
            try {
                c.launch(logs.resolve("master.log"), "org.apache.spark.deploy.master.Master", "--host", "127.0.0.1",
                        "--port", String.valueOf(port), "--webui-port", String.valueOf(web));
                for (int i = 0; i < workers; i++) {
                    c.launch(logs.resolve("worker-" + i + ".log"), "org.apache.spark.deploy.worker.Worker", "--host",
                            "127.0.0.1", "--cores", String.valueOf(coresPerWorker), "--memory", memoryMb + "m",
                            "--webui-port", String.valueOf(freePort()), "--work-dir",
                            logs.resolve("work-" + i).toString(), c.masterUrl);
                }
                c.awaitWorkers(workers, logs);
                return c;
            } catch (RuntimeException | IOException e) {
                c.close();
                throw e;
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** @return the master's URL, {@code spark://127.0.0.1:port} */
    public String masterUrl() {
        return masterUrl;
    }

    /**
     * @param taskCpus CPUs per task ({@code spark.task.cpus})
     * @param executorCores cores per executor (one executor per worker)
     * @param executorMemoryMb executor heap
     * @return a session on this cluster whose executors run on this JVM's class path, with the
     *     settings of {@link AttuneSpark#sessionBuilder} (its attempts per task included)
     */
    public org.apache.spark.sql.SparkSession session(int taskCpus, int executorCores, int executorMemoryMb) {
        return session(taskCpus, executorCores, executorMemoryMb, Map.of());
    }

    /**
     * @param taskCpus CPUs per task ({@code spark.task.cpus})
     * @param executorCores cores per executor (one executor per worker)
     * @param executorMemoryMb executor heap
     * @param conf further Spark settings for the session
     * @return a session as {@link #session(int, int, int)} gives, with {@code conf} added
     */
    public org.apache.spark.sql.SparkSession session(int taskCpus, int executorCores, int executorMemoryMb,
            Map<String, String> conf) {
        org.apache.spark.sql.SparkSession.Builder b = AttuneSpark.sessionBuilder(masterUrl, taskCpus,
                        AttuneSpark.DEFAULT_MAX_FAILURES)
                .config("spark.driver.host", "127.0.0.1")
                .config("spark.executor.extraClassPath", System.getProperty("java.class.path"))
                .config("spark.executor.cores", String.valueOf(executorCores))
                .config("spark.executor.memory", executorMemoryMb + "m")
                // the executor JVM sizes its garbage collector and compiler threads to its cores, not
                // the host's: 1-core executors that each ran GC threads for both of this machine's
                // cores slowed each other's trials by 1.3x (a 4-trial search: 0.73x the sequential
                // wall time; with this, 0.57x)
                .config("spark.executor.extraJavaOptions", AttuneSpark.EXECUTOR_JAVA_OPTIONS
                        + " -XX:ActiveProcessorCount=" + executorCores);
        conf.forEach(b::config);
        return b.getOrCreate();
    }

    /** @return the executor JVMs the workers run now (their process handles) */
    public List<ProcessHandle> executors() {
        List<ProcessHandle> out = new ArrayList<>();
        for (Process p : processes) {
            p.descendants().filter(h -> commandLine(h).contains("CoarseGrainedExecutorBackend")).forEach(out::add);
        }
        return out;
    }

    private static String commandLine(ProcessHandle h) {
        try {
            // /proc has the whole command line where ProcessHandle.Info may leave the arguments out
            return Files.readString(Path.of("/proc", String.valueOf(h.pid()), "cmdline")).replace('\0', ' ');
        } catch (IOException | RuntimeException e) {
            return h.info().commandLine().orElse("");
        }
    }

    private void launch(Path log, String mainClass, String... args) throws IOException {
        List<String> cmd = new ArrayList<>();
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        cmd.add("-Xmx256m");
        cmd.addAll(JAVA_OPTIONS);
        // the master's registrations at INFO (slf4j-simple logs WARN by default): awaitWorkers counts them
        cmd.add("-Dorg.slf4j.simpleLogger.log.org.apache.spark.deploy.master.Master=info");
        cmd.add("-cp");
        cmd.add(System.getProperty("java.class.path"));
        cmd.add(mainClass);
        cmd.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile());
        pb.environment().put("SPARK_HOME", home.toString());
        pb.environment().put("SPARK_SCALA_VERSION", "2.13");
        pb.environment().put("SPARK_LOCAL_IP", "127.0.0.1");
        processes.add(pb.start());
    }

    private void awaitWorkers(int workers, Path logs) {
        HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
        long deadline = System.nanoTime() + Duration.ofMinutes(2).toNanos();
        Pattern alive = Pattern.compile("\"aliveworkers\"\\s*:\\s*(\\d+)");
        while (System.nanoTime() < deadline) {
            for (Process p : processes) {
                if (!p.isAlive()) {
                    throw new AttuneException("a Spark cluster process exited with " + p.exitValue() + "; see the logs in "
                            + logs);
                }
            }
            try {
                String body = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + webPort + "/json/"))
                        .timeout(Duration.ofSeconds(2)).build(), HttpResponse.BodyHandlers.ofString()).body();
                Matcher m = alive.matcher(body);
                if (m.find() && Integer.parseInt(m.group(1)) >= workers) {
                    return;
                }
            } catch (IOException e) {
                // not listening yet
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new AttuneException("interrupted while the Spark cluster started");
            }
            // the master's own log too: if another process took the web UI's port first, the master
            // serves its UI on the next one and the poll above never sees the workers
            if (registered(logs.resolve("master.log")) >= workers) {
                return;
            }
            try {
                Thread.sleep(300);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new AttuneException("interrupted while the Spark cluster started");
            }
        }
        throw new AttuneException(String.format(Locale.ROOT, "the Spark cluster's %d workers did not register within 2"
                + " minutes (%d did, by the master's log); see the logs in %s", workers,
                registered(logs.resolve("master.log")), logs));
    }

    /** @return how many workers the master's log says registered (Spark logs "Registering worker ..."). */
    private static long registered(Path masterLog) {
        try (java.util.stream.Stream<String> lines = Files.lines(masterLog, java.nio.charset.StandardCharsets.UTF_8)) {
            return lines.filter(l -> l.contains("Registering worker")).count();
        } catch (IOException | java.io.UncheckedIOException e) {
            return 0; // not written yet, or a partial line that is not UTF-8 yet
        }
    }

    /** Stops the workers' executors, the workers and the master. */
    @Override
    public void close() {
        for (int i = processes.size() - 1; i >= 0; i--) {
            Process p = processes.get(i);
            p.descendants().forEach(ProcessHandle::destroy);
            p.destroy();
        }
        for (Process p : processes) {
            try {
                if (!p.waitFor(20, java.util.concurrent.TimeUnit.SECONDS)) {
                    p.descendants().forEach(ProcessHandle::destroyForcibly);
                    p.destroyForcibly();
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        try (var walk = Files.walk(home)) {
            for (Path p : walk.sorted(java.util.Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        } catch (IOException e) {
            // a temporary folder left behind
        }
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }

    /** The flags Spark's launcher gives its JVMs on Java 17 (Spark reflects into java.base). */
    public static final List<String> JAVA_OPTIONS = List.of("--add-opens=java.base/java.lang=ALL-UNNAMED",
            "--add-opens=java.base/java.lang.invoke=ALL-UNNAMED", "--add-opens=java.base/java.lang.reflect=ALL-UNNAMED",
            "--add-opens=java.base/java.io=ALL-UNNAMED", "--add-opens=java.base/java.net=ALL-UNNAMED",
            "--add-opens=java.base/java.nio=ALL-UNNAMED", "--add-opens=java.base/java.util=ALL-UNNAMED",
            "--add-opens=java.base/java.util.concurrent=ALL-UNNAMED",
            "--add-opens=java.base/java.util.concurrent.atomic=ALL-UNNAMED",
            "--add-opens=java.base/jdk.internal.ref=ALL-UNNAMED", "--add-opens=java.base/sun.nio.ch=ALL-UNNAMED",
            "--add-opens=java.base/sun.nio.cs=ALL-UNNAMED", "--add-opens=java.base/sun.security.action=ALL-UNNAMED",
            "--add-opens=java.base/sun.util.calendar=ALL-UNNAMED", "-Djdk.reflect.useDirectMethodHandle=false",
            "-Dio.netty.tryReflectionSetAccessible=true");
}
