/**
 * Readers of tabular data files (TSV, CSV, JSON Lines) with named columns, shared by the task
 * plugins: every row keeps its {@code file:line}, bad rows fail or are skipped by policy, and every
 * error names the file, line and column and says what to do.
 */
package dev.attune.tasks.io;
