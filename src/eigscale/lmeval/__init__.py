"""lm-evaluation-harness glue, and the only package of eigscale that imports lm-eval.

- `gen_kwargs`: which gen_kwargs keys are lm-eval's and which a scaler's;
- `mixin`: `ScalingMixin`, `generate_until` through a job of the model's mode;
- `jobs`: the three modes (live, replay sweep, oracle grid) over one resume-and-chunk loop;
- `run_folder`: the records and output files of an evaluation (their names are spelled there);
- `models`: the `vllm_eig` and `hf_eig` model classes;
- `harness`: what the commands share (model loading, one lm-eval evaluation, SPEC.json);
- `eval_command`, `sweep_command`, `oracle_command`: the `eigscale-eval`, `eigscale-sweep` and
  `eigscale-oracle` command lines, side by side;
- `tasks/`: the tasks eigscale ships (lm-eval's --include_path).
"""
