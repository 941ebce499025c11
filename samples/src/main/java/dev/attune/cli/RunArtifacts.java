package dev.attune.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import javax.imageio.ImageIO;

/**
 * What a fine-tune leaves next to the model besides weights: PNG plots of the training loss and of
 * the evaluation metrics (read back from trainer_log.jsonl), and a model card (README.md) with the
 * data, settings, results and the command that reproduces the run.
 *
 * <p>The plots are drawn with java.awt (headless) rather than XChart: XChart could not be fetched
 * into this build's offline repository, and a line chart of a few series needs little more than
 * axes, ticks and polylines.
 */
final class RunArtifacts {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Color[] COLORS = {new Color(31, 119, 180), new Color(255, 127, 14), new Color(44, 160, 44),
        new Color(214, 39, 40), new Color(148, 103, 189), new Color(140, 86, 75)};

    private RunArtifacts() {}

    /** A named series of (x, y) points. */
    record Series(String name, List<double[]> points) {}

    /**
     * @param output a run's output folder holding trainer_log.jsonl
     * @return the plots written
     * @throws IOException on write failure
     */
    static List<Path> writePlots(Path output) throws IOException {
        Path log = output.resolve("trainer_log.jsonl");
        List<Path> written = new ArrayList<>();
        if (!Files.exists(log)) {
            return written;
        }
        List<double[]> loss = new ArrayList<>();
        Map<String, List<double[]>> evals = new LinkedHashMap<>();
        for (String line : Files.readAllLines(log, StandardCharsets.UTF_8)) {
            JsonNode n = JSON.readTree(line);
            double step = n.path("step").asDouble();
            if (n.has("loss")) {
                loss.add(new double[] {step, n.get("loss").asDouble()});
            }
            n.fields().forEachRemaining(e -> {
                if (e.getKey().startsWith("eval_") && e.getValue().isNumber()) {
                    evals.computeIfAbsent(e.getKey(), k -> new ArrayList<>()).add(new double[] {step, e.getValue().asDouble()});
                }
            });
        }
        if (!loss.isEmpty()) {
            Path p = output.resolve("train_loss.png");
            plot(p, "Training loss", "step", List.of(new Series("loss", loss)));
            written.add(p);
        }
        if (!evals.isEmpty()) {
            List<Series> series = new ArrayList<>();
            evals.forEach((k, v) -> series.add(new Series(k, v)));
            Path p = output.resolve("eval_metrics.png");
            plot(p, "Evaluation metrics", "step", series);
            written.add(p);
        }
        return written;
    }

    /**
     * Draws series as lines with markers on shared axes and writes a PNG atomically.
     *
     * @param file the PNG
     * @param title chart title
     * @param xLabel x axis label
     * @param series the data
     * @throws IOException on write failure
     */
    static void plot(Path file, String title, String xLabel, List<Series> series) throws IOException {
        System.setProperty("java.awt.headless", "true");
        int w = 900;
        int h = 540;
        int left = 80;
        int right = 220;
        int top = 50;
        int bottom = 60;
        double minX = Double.POSITIVE_INFINITY;
        double maxX = Double.NEGATIVE_INFINITY;
        double minY = Double.POSITIVE_INFINITY;
        double maxY = Double.NEGATIVE_INFINITY;
        for (Series s : series) {
            for (double[] p : s.points()) {
                if (Double.isFinite(p[1])) {
                    minX = Math.min(minX, p[0]);
                    maxX = Math.max(maxX, p[0]);
                    minY = Math.min(minY, p[1]);
                    maxY = Math.max(maxY, p[1]);
                }
            }
        }
        if (minX == maxX) {
            minX -= 1;
            maxX += 1;
        }
        if (!(minY < maxY)) {
            minY -= 0.5;
            maxY += 0.5;
        }
        double padY = (maxY - minY) * 0.05;
        minY -= padY;
        maxY += padY;
        BufferedImage img = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = img.createGraphics();
        g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
        g.setColor(Color.WHITE);
        g.fillRect(0, 0, w, h);
        g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 12));
        int pw = w - left - right;
        int ph = h - top - bottom;
        g.setColor(new Color(230, 230, 230));
        for (int i = 0; i <= 5; i++) {
            int y = top + ph - i * ph / 5;
            int x = left + i * pw / 5;
            g.drawLine(left, y, left + pw, y);
            g.drawLine(x, top, x, top + ph);
        }
        g.setColor(Color.DARK_GRAY);
        g.drawRect(left, top, pw, ph);
        for (int i = 0; i <= 5; i++) {
            double vy = minY + i * (maxY - minY) / 5;
            double vx = minX + i * (maxX - minX) / 5;
            g.drawString(format(vy), 8, top + ph - i * ph / 5 + 4);
            g.drawString(format(vx), left + i * pw / 5 - 12, top + ph + 18);
        }
        g.drawString(xLabel, left + pw / 2 - 10, h - 15);
        g.setFont(new Font(Font.SANS_SERIF, Font.BOLD, 16));
        g.drawString(title, left, 30);
        g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 12));
        g.setStroke(new BasicStroke(2f));
        for (int s = 0; s < series.size(); s++) {
            Series sr = series.get(s);
            g.setColor(COLORS[s % COLORS.length]);
            int px = -1;
            int py = -1;
            for (double[] p : sr.points()) {
                if (!Double.isFinite(p[1])) {
                    continue;
                }
                int x = left + (int) Math.round((p[0] - minX) / (maxX - minX) * pw);
                int y = top + ph - (int) Math.round((p[1] - minY) / (maxY - minY) * ph);
                if (px >= 0) {
                    g.drawLine(px, py, x, y);
                }
                g.fillOval(x - 3, y - 3, 6, 6);
                px = x;
                py = y;
            }
            g.fillRect(left + pw + 15, top + 10 + s * 20, 12, 12);
            g.setColor(Color.DARK_GRAY);
            g.drawString(sr.name(), left + pw + 32, top + 21 + s * 20);
        }
        g.dispose();
        Path tmp = file.resolveSibling("." + file.getFileName() + ".tmp");
        ImageIO.write(img, "png", tmp.toFile());
        Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }

    private static String format(double v) {
        double a = Math.abs(v);
        return a != 0 && (a < 1e-3 || a >= 1e5) ? String.format(Locale.ROOT, "%.2e", v) : String.format(Locale.ROOT, "%.4g", v);
    }

    /**
     * Writes README.md, a model card: what was trained on what, with which settings, what it scored
     * and how to reproduce it.
     *
     * @param output the saved model folder
     * @param report the run's metrics.json content
     * @param settings the training settings (TrainingConfig's components)
     * @param commandLine the arguments of the run
     * @param plots plot files to show
     * @throws IOException on write failure
     */
    static void writeModelCard(Path output, Map<String, Object> report, Map<String, Object> settings,
            List<String> commandLine, List<Path> plots) throws IOException {
        StringBuilder md = new StringBuilder();
        md.append("---\nlibrary_name: attune\ntags:\n- ").append(report.get("task")).append("\n---\n\n");
        md.append("# Fine-tuned ").append(Path.of(String.valueOf(report.get("model"))).getFileName()).append("\n\n");
        md.append("Fine-tuned with Attune (Java, ").append(report.get("engine")).append(", device ")
                .append(report.get("device")).append(") for **").append(report.get("task")).append("**. ")
                .append("The folder is a HuggingFace model folder: `transformers` loads it unchanged.\n\n");
        md.append("## Data\n\n| | file | examples |\n|---|---|---|\n");
        md.append("| train | `").append(report.get("train_file")).append("` | ").append(report.get("train_examples")).append(" |\n");
        if (report.get("eval_file") != null) {
            md.append("| eval | `").append(report.get("eval_file")).append("` | ").append(report.get("eval_examples")).append(" |\n");
        }
        md.append("\nLabels: ").append(report.get("labels")).append("\n\n");
        md.append("## Results\n\n| metric | value |\n|---|---|\n");
        for (Map.Entry<String, Object> e : report.entrySet()) {
            if (e.getKey().startsWith("eval_") && e.getValue() instanceof Number n) {
                md.append("| ").append(e.getKey()).append(" | ").append(String.format(Locale.ROOT, "%.4f", n.doubleValue()))
                        .append(" |\n");
            }
        }
        md.append("| train_loss | ").append(String.format(Locale.ROOT, "%.4f", ((Number) report.get("train_loss")).doubleValue()))
                .append(" |\n| global_steps | ").append(report.get("global_steps")).append(" |\n| train_seconds | ")
                .append(String.format(Locale.ROOT, "%.1f", ((Number) report.get("train_seconds")).doubleValue()))
                .append(" |\n\n");
        for (Path p : plots) {
            md.append("![").append(p.getFileName()).append("](").append(p.getFileName()).append(")\n\n");
        }
        md.append("## Training settings\n\n| setting | value |\n|---|---|\n");
        settings.forEach((k, v) -> md.append("| ").append(k).append(" | ").append(v).append(" |\n"));
        md.append("\n## Reproduce\n\n```\n./attune");
        for (String a : commandLine) {
            md.append(' ').append(a.matches("[A-Za-z0-9_./:=,+-]+") ? a : "'" + a.replace("'", "'\\''") + "'");
        }
        md.append("\n```\n\nOn CPU with the same seed and thread count the run is deterministic; logs are in ")
                .append("`trainer_log.jsonl` and TensorBoard event files in `runs/` (`tensorboard --logdir runs`).\n");
        Path tmp = output.resolve(".README.md.tmp");
        Files.writeString(tmp, md.toString(), StandardCharsets.UTF_8);
        Files.move(tmp, output.resolve("README.md"), StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }

    /**
     * @param record a record
     * @return its components by name
     */
    static Map<String, Object> components(Record record) {
        Map<String, Object> out = new LinkedHashMap<>();
        for (var c : record.getClass().getRecordComponents()) {
            try {
                out.put(c.getName(), c.getAccessor().invoke(record));
            } catch (ReflectiveOperationException e) {
                throw new IllegalStateException(e);
            }
        }
        return out;
    }
}
