package dev.attune.core.train.callbacks;

import org.apiguardian.api.API;

import dev.attune.error.AttuneException;
import dev.attune.train.TrainerCallback;
import java.awt.Color;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import javax.imageio.ImageIO;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.XYSeries;
import org.knowm.xchart.style.Styler;
import org.knowm.xchart.style.markers.SeriesMarkers;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * At the end of a run, draws its log history as PNG charts (XChart) in the output folder: {@value
 * #TRAIN_LOSS} (the logged training loss by step) and {@value #EVAL_METRICS} (every {@code eval_*}
 * metric by step, an {@code evalOnStart} evaluation at step 0 included). A chart with nothing to show
 * is not written; a chart that cannot be drawn is a warning, not a failed run. Does nothing without
 * an output folder.
 */
@API(status = API.Status.EXPERIMENTAL, since = "0.1")
public final class PlotsCallback implements TrainerCallback {
    private static final Logger LOG = LoggerFactory.getLogger(PlotsCallback.class);
    /** The training-loss chart's file name. */
    public static final String TRAIN_LOSS = "train_loss.png";
    /** The evaluation-metrics chart's file name. */
    public static final String EVAL_METRICS = "eval_metrics.png";
    /** Width of the charts in pixels. */
    public static final int WIDTH = 900;
    /** Height of the charts in pixels. */
    public static final int HEIGHT = 540;

    @Override
    public void onTrainEnd(Context context) {
        Path out = context.config().outputDir();
        if (out == null) {
            return;
        }
        try {
            write(out, context.state().logHistory());
        } catch (RuntimeException | LinkageError | InternalError e) {
            // the charts are a convenience: a system without a working AWT (fonts) must not lose the run
            LOG.warn("could not draw the training charts in {} ({}); the run and its log are unaffected", out,
                    e.toString());
        }
    }

    /**
     * Draws a run's log records.
     *
     * @param folder where the charts go
     * @param records log records (each with a {@code step}; training records with {@code loss},
     *     evaluations with {@code eval_*} metrics)
     * @return the charts written
     */
    public static List<Path> write(Path folder, List<Map<String, Object>> records) {
        List<double[]> loss = new ArrayList<>();
        Map<String, List<double[]>> evals = new LinkedHashMap<>();
        for (Map<String, Object> r : records) {
            if (!(r.get("step") instanceof Number step)) {
                continue;
            }
            if (r.get("loss") instanceof Number n) {
                loss.add(new double[] {step.doubleValue(), n.doubleValue()});
            }
            r.forEach((k, v) -> {
                if (k.startsWith("eval_") && v instanceof Number n) {
                    evals.computeIfAbsent(k, x -> new ArrayList<>()).add(new double[] {step.doubleValue(), n.doubleValue()});
                }
            });
        }
        List<Path> written = new ArrayList<>();
        if (!loss.isEmpty() && chart(folder.resolve(TRAIN_LOSS), "Training loss", "step", Map.of("loss", loss))) {
            written.add(folder.resolve(TRAIN_LOSS));
        }
        if (!evals.isEmpty() && chart(folder.resolve(EVAL_METRICS), "Evaluation metrics", "step", evals)) {
            written.add(folder.resolve(EVAL_METRICS));
        }
        return written;
    }

    /**
     * Draws series as lines with markers on shared axes, {@value #WIDTH} by {@value #HEIGHT} pixels,
     * and writes the PNG atomically (aside, then renamed). Points that are not finite are left out.
     *
     * @param file the PNG
     * @param title the chart's title
     * @param xLabel the x axis's title
     * @param series the named series, each a list of {x, y} points, in legend order
     * @return whether a chart was written (false when no series has a finite point)
     * @throws AttuneException when the file cannot be written
     */
    public static boolean chart(Path file, String title, String xLabel, Map<String, List<double[]>> series) {
        if (System.getProperty("java.awt.headless") == null) {
            System.setProperty("java.awt.headless", "true");
        }
        XYChart chart = new XYChartBuilder().width(WIDTH).height(HEIGHT).title(title).xAxisTitle(xLabel).build();
        chart.getStyler().setLegendPosition(Styler.LegendPosition.OutsideE);
        chart.getStyler().setChartBackgroundColor(Color.WHITE);
        chart.getStyler().setPlotBackgroundColor(Color.WHITE);
        chart.getStyler().setMarkerSize(6);
        int drawn = 0;
        for (Map.Entry<String, List<double[]>> e : series.entrySet()) {
            List<double[]> finite = e.getValue().stream()
                    .filter(p -> Double.isFinite(p[0]) && Double.isFinite(p[1])).toList();
            if (finite.isEmpty()) {
                continue;
            }
            double[] x = new double[finite.size()];
            double[] y = new double[finite.size()];
            for (int i = 0; i < x.length; i++) {
                x[i] = finite.get(i)[0];
                y[i] = finite.get(i)[1];
            }
            XYSeries s = chart.addSeries(e.getKey(), x, y);
            s.setMarker(SeriesMarkers.CIRCLE);
            drawn++;
        }
        if (drawn == 0) {
            return false;
        }
        BufferedImage image = BitmapEncoder.getBufferedImage(chart);
        Path abs = file.toAbsolutePath();
        Path tmp = abs.resolveSibling("." + abs.getFileName() + ".tmp-" + System.nanoTime());
        try {
            Files.createDirectories(abs.getParent());
            if (!ImageIO.write(image, "png", tmp.toFile())) {
                throw new IOException("no PNG writer");
            }
            Files.move(tmp, abs, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            return true;
        } catch (IOException e) {
            try {
                Files.deleteIfExists(tmp);
            } catch (IOException ignored) {
                // best effort
            }
            throw new AttuneException("cannot write the chart " + file + ": " + e.getMessage()
                    + "; check free space and permissions", e);
        }
    }
}
