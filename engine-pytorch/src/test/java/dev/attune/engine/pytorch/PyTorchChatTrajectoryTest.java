package dev.attune.engine.pytorch;

import dev.attune.testing.ChatTrajectorySuite;

/** Twelve steps of the chat task on the Llama fixture, full and with LoRA, against PyTorch loops, on PyTorch. */
class PyTorchChatTrajectoryTest extends ChatTrajectorySuite {
    @Override
    protected String engineName() {
        return "pytorch";
    }
}
