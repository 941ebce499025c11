/**
 * Readers of tabular data files (TSV, CSV, JSON Lines) with named columns, for the built-in tasks
 * and for task plugins: every row keeps its {@code file:line}, bad rows fail or are skipped by
 * policy, and every error names the file, line and column and says what to do.
 *
 * <p>A plugin's {@link dev.attune.task.Task#read} is typically a few lines:
 *
 * <pre>{@code
 * Column text = new Column(options.get("text_column", "text"), "text_column");
 * Column score = new Column(options.get("score_column", "score"), "score_column");
 * TableReader reader = new TableReader(null, BadRowPolicy.parse(options.values().get(BadRowPolicy.OPTION)));
 * Table<Review> table = reader.read(file, List.of(text, score),
 *         row -> new Review(row.require(text), row.requireNumber(score), row.location()));
 * return new Dataset(file.toString(), table.rows(), table.skipped());
 * }</pre>
 *
 * <p>The types here are supported API of {@code attune-tasks} for plugin authors (marked with
 * {@link org.apiguardian.api.API}); they depend on {@code attune-sdk-api}, Apache Commons CSV and
 * Jackson only.
 */
package dev.attune.tasks.io;
