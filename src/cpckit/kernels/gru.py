"""A GRU layer with a backward pass through time of its own (the CPU path of the GRU context)."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from cpckit.kernels.fastpath import single_thread

__all__ = ["GRULayer", "gru_layer"]


def gru_layer(x: Tensor, w_ih: Tensor, w_hh: Tensor, b_ih: Tensor, b_hh: Tensor) -> Tensor:
    """One GRU layer from a zero state, as ``nn.GRU`` computes it (Cho et al. 2014).

    ``r = s(W_ir x + b_ir + W_hr h + b_hr)``, ``u = s(W_iz x + b_iz + W_hz h + b_hz)``,
    ``n = tanh(W_in x + b_in + r * (W_hn h + b_hn))``, ``h' = (1 - u) * n + u * h``.

    Shape:
        x: ``(B, L, I)``; w_ih: ``(3H, I)``; w_hh: ``(3H, H)``; biases ``(3H,)`` -> ``(B, L, H)``
    """
    out: Tensor = GRULayer.apply(x, w_ih, w_hh, b_ih, b_hh)
    return out


class GRULayer(torch.autograd.Function):
    """GRU layer with a hand-written backward through time.

    Forward keeps, per step, the gates ``r``, ``u``, ``n``, the hidden part
    ``W_hn h + b_hn`` and the state, in time-major buffers. Backward walks
    back in time doing only what depends on the step before (one
    ``(B, 3H) x (3H, H)`` product and a few elementwise ops on ``(B, H)``),
    then forms every weight and input gradient with one matrix product each.
    The per-step loops are too small to split across threads and run on one;
    the products over all steps use them all.
    """

    @staticmethod
    def forward(  # type: ignore[override]
        ctx: Any, x: Tensor, w_ih: Tensor, w_hh: Tensor, b_ih: Tensor, b_hh: Tensor
    ) -> Tensor:
        b, length, _ = x.shape
        hid = w_hh.shape[1]
        x_tm = x.transpose(0, 1).contiguous()  # (L, B, I)
        gi = torch.addmm(b_ih, x_tm.view(length * b, -1), w_ih.t()).view(length, b, 3 * hid)
        states = x.new_empty(length + 1, b, hid)  # states[t] is the state before step t
        states[0].zero_()
        gates = x.new_empty(length, b, 3 * hid)  # r, u, n
        ghn = x.new_empty(length, b, hid)  # W_hn h + b_hn
        gh = x.new_empty(b, 3 * hid)
        w_hh_t = w_hh.t()
        with single_thread():
            for t in range(length):
                h = states[t]
                torch.addmm(b_hh, h, w_hh_t, out=gh)
                ru = gates[t, :, : 2 * hid]
                torch.add(gi[t, :, : 2 * hid], gh[:, : 2 * hid], out=ru)
                ru.sigmoid_()
                n = gates[t, :, 2 * hid :]
                ghn[t].copy_(gh[:, 2 * hid :])
                torch.addcmul(gi[t, :, 2 * hid :], ru[:, :hid], ghn[t], out=n)
                n.tanh_()
                torch.lerp(n, h, ru[:, hid:], out=states[t + 1])
        ctx.save_for_backward(w_ih, w_hh, x_tm, states, gates, ghn)
        return states[1:].transpose(0, 1).contiguous()

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx: Any, grad_out: Tensor) -> tuple[Tensor | None, ...]:  # type: ignore[override]
        w_ih, w_hh, x_tm, states, gates, ghn = ctx.saved_tensors
        length, b, hid = ghn.shape
        r, u, n = gates[..., :hid], gates[..., hid : 2 * hid], gates[..., 2 * hid :]
        h_prev = states[:-1]
        # Factors that do not depend on the incoming gradient, for all steps at once:
        # d pre_n = dh (1 - u)(1 - n^2); d pre_u = dh (h - n) u (1 - u);
        # d pre_r = d pre_n ghn r (1 - r); d ghn = d pre_n r.
        f_n = (1 - u) * (1 - n * n)
        f_u = (h_prev - n) * u * (1 - u)
        f_r = ghn * r * (1 - r)
        g_tm = grad_out.transpose(0, 1)  # (L, B, H), a view
        d_gh = grad_out.new_empty(length, b, 3 * hid)  # d(W_hh h + b_hh)
        d_pre_n = grad_out.new_empty(length, b, hid)  # d(W_in x + b_in + r * ghn)
        dh = grad_out.new_zeros(b, hid)
        dh_t = grad_out.new_empty(b, hid)
        with single_thread():
            for t in range(length - 1, -1, -1):
                torch.add(dh, g_tm[t], out=dh_t)
                dn = d_pre_n[t]
                torch.mul(dh_t, f_n[t], out=dn)
                torch.mul(dn, f_r[t], out=d_gh[t, :, :hid])
                torch.mul(dh_t, f_u[t], out=d_gh[t, :, hid : 2 * hid])
                torch.mul(dn, r[t], out=d_gh[t, :, 2 * hid :])
                torch.mul(dh_t, u[t], out=dh)
                dh.addmm_(d_gh[t], w_hh)
        d_gi = torch.cat([d_gh[..., : 2 * hid], d_pre_n], dim=-1).view(length * b, 3 * hid)
        d_gh_flat = d_gh.view(length * b, 3 * hid)
        grad_x = grad_w_ih = grad_w_hh = grad_b_ih = grad_b_hh = None
        if ctx.needs_input_grad[0]:
            grad_x = torch.mm(d_gi, w_ih).view(length, b, -1).transpose(0, 1)
        if ctx.needs_input_grad[1]:
            grad_w_ih = torch.mm(d_gi.t(), x_tm.view(length * b, -1))
        if ctx.needs_input_grad[2]:
            grad_w_hh = torch.mm(d_gh_flat.t(), h_prev.reshape(length * b, hid))
        if ctx.needs_input_grad[3]:
            grad_b_ih = d_gi.sum(0)
        if ctx.needs_input_grad[4]:
            grad_b_hh = d_gh_flat.sum(0)
        return grad_x, grad_w_ih, grad_w_hh, grad_b_ih, grad_b_hh
