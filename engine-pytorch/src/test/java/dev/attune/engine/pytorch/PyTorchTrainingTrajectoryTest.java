package dev.attune.engine.pytorch;

import dev.attune.testing.TrainingTrajectorySuite;

/** The 12-step training trajectory against HuggingFace's Trainer on the PyTorch engine. */
class PyTorchTrainingTrajectoryTest extends TrainingTrajectorySuite {
    @Override
    protected String engineName() {
        return "pytorch";
    }
}
