"""Under DDP the queue takes the keys of every process (2 processes, gloo, CPU)."""

from __future__ import annotations

from pathlib import Path

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from cpckit.negatives.queue import LatentQueue

WORLD = 2


def _worker(rank: int, init_file: str, out_dir: str) -> None:
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=WORLD)
    try:
        torch.set_num_threads(1)
        queue = LatentQueue(8, 2)
        # rank r sends r + 2 keys (different counts per process) valued 10 r + i
        keys = (10 * rank + torch.arange(rank + 2, dtype=torch.float32)).unsqueeze(1).repeat(1, 2)
        queue.enqueue(keys)
        queue.enqueue(keys + 100)
        torch.save(queue.state_dict(), Path(out_dir) / f"rank{rank}.pt")
    finally:
        dist.destroy_process_group()


def test_neg_ddp_queue_gathers_keys_of_all_processes(tmp_path: Path) -> None:
    mp.start_processes(
        _worker,
        args=(str(tmp_path / "init"), str(tmp_path)),
        nprocs=WORLD,
        join=True,
        start_method="fork",
    )
    states = [torch.load(tmp_path / f"rank{r}.pt") for r in range(WORLD)]
    # step 1 fills slots 0-4 with rank 0's [0, 1] then rank 1's [10, 11, 12];
    # step 2 writes the same + 100 to slots 5, 6, 7, 0, 1 (wrapping around)
    expected = [111.0, 112.0, 10.0, 11.0, 12.0, 100.0, 101.0, 110.0]
    for state in states:
        assert state["queue"][:, 0].tolist() == expected
        assert int(state["filled"]) == 8 and int(state["ptr"]) == 10 % 8
    assert torch.equal(states[0]["queue"], states[1]["queue"])
