package dev.attune.engine.tensorflow;

import dev.attune.testing.ChatTrajectorySuite;

/** Twelve steps of the chat task on the Llama fixture, full and with LoRA, against PyTorch loops, on TensorFlow. */
class TensorFlowChatTrajectoryTest extends ChatTrajectorySuite {
    @Override
    protected String engineName() {
        return "tensorflow";
    }
}
