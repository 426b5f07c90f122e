"""``hecate-edge train --engine torch``: the command's torch side (docs/TORCH.md):
the device and process group, a fresh or resumed HecateLM, training, the
model file.  The rest of the command (flags, data, the report) is
hecate_edge.cli's, shared with the native trainer."""
from __future__ import annotations


def train_torch(args, cfg, config, training_data):
    """(runtime Model of the trained weights, records, TrainConfig, data plan) on the leader
    rank, None on the others; the model file (and --checkpoint, a torch checkpoint) written.
    training_data(args, config) is the command's data plan.  A device or setting that cannot
    run is a ValueError; a non-finite step writes the last good weights to --out and raises
    NonFiniteTraining."""
    import torch

    from hecate_edge.nonfinite import NonFiniteTraining
    from hecate_edge.torch import distributed
    from hecate_edge.torch import train as torch_train
    from hecate_edge.torch.model import HecateLM

    world = distributed.join(args.device or "cpu")
    if args.threads is not None and world.device.type == "cpu":
        torch.set_num_threads(args.threads)
    if args.resume:
        lm, config, run = torch_train.load_checkpoint(args.resume, world.device)
        if world.leader:
            print(f"resuming at step {run.step} of {config.steps} ({config.optimizer}, {world.device})")
    else:
        lm, run = HecateLM.from_config(cfg, seed=config.seed).to(world.device), None
    world.share(config.batch)
    torch_train.make_optimizer(lm, config)  # an unknown optimizer fails before the data is read
    plan = training_data(args, config)
    finished = False  # every rank ends together: training returned, or stopped at the same step
    try:
        records = torch_train.train(lm, plan.train, config, world, mix=plan.mix, log_path=args.log,
                                    show_progress=not args.quiet, run=run, checkpoint=args.checkpoint,
                                    checkpoint_every=args.checkpoint_every, val=plan.val,
                                    eval_every=args.eval_every, eval_tokens=args.eval_tokens,
                                    on_nonfinite=args.on_nonfinite)
        finished = True
    except NonFiniteTraining:  # decided on all-reduced numbers: every rank stops at this step
        finished = True
        if world.leader:
            lm.save(args.out)
        raise
    finally:
        distributed.leave(finished)
    if not world.leader:
        return None
    lm.save(args.out)
    return torch_train.runtime_model(lm), records, config, plan
