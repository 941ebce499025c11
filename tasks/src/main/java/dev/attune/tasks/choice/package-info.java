/**
 * Multiple choice (SWAG-style): pick the ending that best continues a context, on a {@code
 * *ForMultipleChoice} head.
 */
package dev.attune.tasks.choice;
