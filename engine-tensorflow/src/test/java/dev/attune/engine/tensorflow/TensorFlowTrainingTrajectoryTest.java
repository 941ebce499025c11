package dev.attune.engine.tensorflow;

import dev.attune.testing.TrainingTrajectorySuite;

/** The 12-step training trajectory against HuggingFace's Trainer on the TensorFlow engine. */
class TensorFlowTrainingTrajectoryTest extends TrainingTrajectorySuite {
    @Override
    protected String engineName() {
        return "tensorflow";
    }
}
