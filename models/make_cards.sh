#!/usr/bin/env bash
# Regenerate the model cards (models/README.md, models/ferplus_default.md) from the run folders and the
# evaluation files; the --note lines are the only hand-written text. Run from the repository root.
set -euo pipefail
cd "$(dirname "$0")/.."
python -m fer.model_card --run results/fer2013_default --model models/fer2013_default.keras \
  --metrics results/fer2013_default/evaluate_val.json results/fer2013_default/evaluate_val_tta.json \
  --bench results/bench_inference.json --title fer2013_default --see-also models/ferplus_default.md \
  --note "Two cosine cycles. Cycle 1 (epochs 1-32) ran in an earlier session and was itself resumed once, after epoch 4, with its schedule shortened from 50 to 32 epochs (the first 4 epochs ran under the 50-epoch cosine, a learning-rate difference below 1%). Cycle 2 (epochs 33-68) was started on cycle 1's final weights through the resume files an interrupted multi-phase run leaves (\`backup/phase0.done.*\`). The wall time is cycle 2 plus the last process of cycle 1 (epochs 5-32); the machine was shared with other jobs, so epochs took 75-240 s." \
  --note "Project targets (see Results): with flip + shifted-crop TTA (\`python -m fer predict --tta\`) the model reaches the 70% PublicTest accuracy milestone and the 68% macro-F1 target; without TTA it stays just below both. The 73% goal is not reached. A third cycle (24 epochs at peak lr 0.01, \`results/fer2013_cycle3_experiment/\`) did not improve plain PublicTest accuracy or macro-F1 and was not shipped; averaging its weights with the two-cycle model's did not beat re-estimating the two-cycle model's BatchNorm statistics alone (same folder, \`*_swa_cycles23.json\`). Neither did ten epochs of stochastic weight averaging after the two cycles (\`results/fer2013_swa/\`) nor a fine-tuning cycle on the FER2013 labels blended with the FER+ votes (\`results/fer2013_votes/\`: the crowd pulls fear and sad towards neutral). Next: a second model for a 2-model ensemble (within the 20 MB budget only at about half this width), a longer single schedule with milder augmentation, FER+ votes only where the crowd agrees with the label, and several seeds to separate sub-point differences from the noise of one PublicTest evaluation." \
  --out models/README.md

python -m fer.model_card --run results/ferplus_default --model models/ferplus_default.keras \
  --metrics results/ferplus_default/evaluate_val.json results/ferplus_default/evaluate_val_tta.json \
  --title ferplus_default --see-also models/README.md \
  --note "Started from \`models/fer2013_default.keras\` as committed in 2f2ad37 (sha256 5bbcf07db9b71a45…, the two-cycle FER2013 model; \`git show 2f2ad37:models/fer2013_default.keras\` restores it). That model saw the same Training faces with the original labels and never PublicTest. After fine-tuning, the BatchNorm statistics were re-estimated on the un-augmented FER+ training faces (line above)." \
  --note "Project targets (see Results): above the 83% shipping bar, below the 87% goal. Contempt (24 PublicTest faces) is never predicted and disgust recall is low: both classes have under 1% of the training faces. Training on the vote distributions instead of the majority labels (\`--soft-labels\`, \`results/ferplus_soft/\`) scored lower and was not shipped. Next: class-balanced sampling for contempt and disgust, more epochs, and a larger input or a wider model for the 87% goal." \
  --out models/ferplus_default.md
