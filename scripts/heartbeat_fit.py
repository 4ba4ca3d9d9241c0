#!/usr/bin/python3
"""How well the heartbeat's network can fit the best factorised reverse step, without sampling noise (PyTorch).

The shared layers (three of --hidden units) and one readout for all steps are trained, with Adam on a cosine, to
the exact factorised rate E[q(x_{t-1} | x_t, x_0) | x_t] (the posterior over the five sequences, in closed form)
through the x0 rate of diffusion/README.md: the objective's expectation over x_0, so only the network's own fit is
left. Prints sum_t KL(exact || model) per sequence in nats (the fit's excess over the exact rate) every 250 steps.

  /usr/bin/python3 scripts/heartbeat_fit.py --activation sigmoid   # 0.24 nats above after 1000 steps
  /usr/bin/python3 scripts/heartbeat_fit.py --activation tanh      # 0.015
"""
import argparse

import torch

T, D, PERIOD = 2000, 20, 5


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--activation', choices=['sigmoid', 'tanh', 'relu'], default='tanh')
    parser.add_argument('--input', choices=['evidence', 'bits'], default='evidence')
    parser.add_argument('--hidden', type=int, default=50)
    parser.add_argument('--steps', type=int, default=1000)
    parser.add_argument('--batch', type=int, default=4096)
    parser.add_argument('--lr', type=float, default=1e-2)
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args()
    torch.manual_seed(args.seed)
    f64 = torch.float64
    steps = torch.arange(0, T + 1, dtype=f64)
    abar = (T - steps) / T                                         # abar_t = (T - t) / T, t = 0..T
    beta = torch.zeros(T + 1, dtype=f64)
    beta[1:] = 1.0 / (T - steps[1:] + 1)
    log_odds = torch.log1p(abar) - torch.log1p(-abar.clamp(max=1 - 1e-9))  # L_t (finite at t = 0, unused)
    phases = torch.zeros(PERIOD, D, dtype=f64)
    for k in range(PERIOD):
        phases[k, k::PERIOD] = 1.0

    def posterior(t, xt, x0):  # q(x_{t-1} = 1 | x_t, x_0), elementwise
        m = 0.5 * (1 + abar[t - 1].unsqueeze(1) * (2 * x0 - 1))
        b = beta[t].unsqueeze(1)
        like1 = torch.where(xt > 0, 1 - 0.5 * b, 0.5 * b)
        like0 = torch.where(xt > 0, 0.5 * b, 1 - 0.5 * b)
        return m * like1 / (m * like1 + (1 - m) * like0)

    def through_pi(t, xt, pi):  # the x0 rate: the posterior averaged over P(x_0 = 1 | x_t) = pi
        low, high = posterior(t, xt, torch.zeros_like(xt)), posterior(t, xt, torch.ones_like(xt))
        return low + pi * (high - low)

    def exact_rate(t, xt):  # Bayes over the five sequences: log-odds L_t per agreeing bit
        scores = (2 * xt - 1) @ phases.T
        return through_pi(t, xt, torch.softmax(log_odds[t].unsqueeze(1) * scores, 1) @ phases)

    act = {'sigmoid': torch.nn.Sigmoid, 'tanh': torch.nn.Tanh, 'relu': torch.nn.ReLU}[args.activation]
    H = args.hidden
    net = torch.nn.Sequential(torch.nn.Linear(D, H), act(), torch.nn.Linear(H, H), act(), torch.nn.Linear(H, H),
                              act(), torch.nn.Linear(H, D)).to(f64)

    def model_rate(t, xt):
        L = log_odds[t].unsqueeze(1)
        evidence = (2 * xt - 1) * L
        y = net(evidence if args.input == 'evidence' else xt)
        return through_pi(t, xt, torch.sigmoid((1 + L) * y + evidence))

    def kl(q, p):
        return q * (torch.log(q) - torch.log(p)) + (1 - q) * (torch.log1p(-q) - torch.log1p(-p))

    opt = torch.optim.Adam(net.parameters(), lr=args.lr)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(opt, args.steps)
    recent = []
    for step in range(1, args.steps + 1):
        x0 = phases[torch.randint(0, PERIOD, (args.batch,))]
        t = torch.randint(2, T + 1, (args.batch,))
        xt = torch.bernoulli(0.5 * (1 + abar[t].unsqueeze(1) * (2 * x0 - 1)))
        with torch.no_grad():
            target = exact_rate(t, xt)
        loss = kl(target, model_rate(t, xt)).sum(1).mean() * (T - 1)
        opt.zero_grad()
        loss.backward()
        opt.step()
        schedule.step()
        recent.append(loss.item())
        if step % 250 == 0:
            print(f'{args.activation} {args.input} H={H} step {step}: sum_t KL(exact || model) '
                  f'{sum(recent) / len(recent):.4f} nats per sequence', flush=True)
            recent = []


if __name__ == '__main__':
    main()
