"""lm-evaluation-harness glue, and the only package of eigscale that imports lm-eval.

- `gen_kwargs`: which gen_kwargs keys are lm-eval's and which a scaler's;
- `mixin`: `ScalingMixin`, `generate_until` through a scaler;
- `models`: the `vllm_eig` and `hf_eig` model classes;
- `evaluate`, `sweep`: the `eigscale-eval` and `eigscale-sweep` command lines;
- `tasks/`: the tasks eigscale ships (lm-eval's --include_path).
"""
