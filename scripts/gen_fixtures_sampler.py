#!/usr/bin/env python3
"""Reference sigma tables and sampler trajectories for tests/sampler/test_sampler.c.

Writes tests/fixtures/sampler/sampler.safetensors. Run by developers, never in CI:

    /work/venv/bin/pip install --no-deps k-diffusion==0.1.1.post1 torchsde trampoline scipy
    /work/venv/bin/python scripts/gen_fixtures_sampler.py

The references are the real functions of k-diffusion 0.1.1.post1 (samplers,
get_sigmas_*, DiscreteEpsDDPMDenoiser, linear_multistep_coeff -> scipy quad)
and of torchsde 0.2.6 (BrownianTree). A1111's own code (sd_schedulers.py,
sd_samplers_timesteps_impl.ddim, sd_samplers_lcm.py, its TorchHijack and the
torchsde randn patch) cannot be installed, so the few lines of it that matter
are restated below, marked "A1111".

Sigma tables are built in float64 (torch default dtype float64, so that
k-diffusion's internal linspace is float64 too). Each trajectory is run twice
on the same table: in float64, and in float32 as A1111 runs its samplers
(float32 sigmas, latents and noise). The test compares loom with the float64
run and uses the float32 run's own distance from it to set the tolerance
(style.md practice 5).

Deterministic stand-ins, identical in the C test:
  * the model: an analytic eps "UNet" E(u, sigma) = 0.8*tanh(0.6*u + p_k + 0.05*sigma) + 0.5*u,
    p_k = 0.5*sin(0.37*k + 0.1) (k = flat element index); the k-diffusion denoiser is
    D(x, sigma) = x - sigma * E(x / sqrt(1 + sigma^2), sigma)  (CompVisDenoiser's form),
  * randn_like: a stored pool of float32 normals handed out in order (A1111 routes
    k-diffusion's torch.randn_like to its per-image generators; the RNG is tested elsewhere),
  * the Brownian tree's seeded randn (A1111 patches torchsde's _randn with
    randn_local(seed, shape)): a splitmix64 uniform scaled to unit variance.

torch.linspace is replaced by the formula of its CUDA kernel, which is the one
loom implements: torch's CPU kernel (a vectorised arange) differs from it in the
last bit, which would blur the float64 comparison. (A1111 builds get_sigmas on
the GPU and the karras/exponential ramps on the CPU, in float32 either way, so
its own tables sit about 1e-7 away from these float64 ones.)
"""
import importlib
import importlib.util
import math
import os
import sys
import types
import warnings

import numpy as np
import torch

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures", "sampler")

# ---------------------------------------------------------------------------
# k-diffusion without its package __init__ (which pulls in skimage, wandb, ...)

_orig_linspace = torch.linspace


def cuda_linspace(start, end, steps, dtype=None, device=None, **kw):
    """torch.linspace as its CUDA kernel computes it (ATen RangeFactories.cu)."""
    dtype = dtype or torch.get_default_dtype()
    npt = np.float64 if dtype == torch.float64 else np.float32
    start, end = npt(float(start)), npt(float(end))
    if steps == 1:
        vals = [start]
    else:
        step = npt((end - start) / npt(steps - 1))
        half = steps // 2
        vals = [npt(start + step * npt(i)) if i < half else npt(end - step * npt(steps - i - 1))
                for i in range(steps)]
    return torch.tensor(np.array(vals, dtype=npt), dtype=dtype, device=device)


def load_kdiffusion():
    spec = importlib.util.find_spec("k_diffusion")
    if spec is None:
        sys.exit("k-diffusion is not installed: pip install --no-deps k-diffusion==0.1.1.post1 torchsde trampoline scipy")
    pkg = types.ModuleType("k_diffusion")
    pkg.__path__ = list(spec.submodule_search_locations)
    sys.modules["k_diffusion"] = pkg
    utils = types.ModuleType("k_diffusion.utils")

    def append_dims(x, target_dims):
        return x[(...,) + (None,) * (target_dims - x.ndim)]

    utils.append_dims = append_dims
    sys.modules["k_diffusion.utils"] = utils
    pkg.utils = utils
    if importlib.util.find_spec("torchdiffeq") is None:   # only log_likelihood uses it
        tde = types.ModuleType("torchdiffeq")
        tde.odeint = None
        sys.modules["torchdiffeq"] = tde
    sampling = importlib.import_module("k_diffusion.sampling")
    external = importlib.import_module("k_diffusion.external")
    return sampling, external


sampling, external = load_kdiffusion()
import torchsde  # noqa: E402  (after k-diffusion, which imports it too)
import torchsde._brownian.brownian_interval as bi  # noqa: E402

torch.linspace = cuda_linspace

# ---------------------------------------------------------------------------
# model schedule (LDM make_beta_schedule "linear", registered as float32)


def ldm_alphas_cumprod():
    betas = (_orig_linspace(0.00085 ** 0.5, 0.012 ** 0.5, 1000, dtype=torch.float64) ** 2).numpy()
    return np.cumprod(1.0 - betas, axis=0).astype(np.float32)


AC32 = ldm_alphas_cumprod()


def model_schedule(dtype):
    ac = torch.tensor(AC32, dtype=torch.float32).to(dtype)
    return external.DiscreteEpsDDPMDenoiser(None, ac, quantize=False)


class LCMDenoiser(external.DiscreteEpsDDPMDenoiser):
    """A1111 sd_samplers_lcm.LCMCompVisDenoiser (schedule part)."""

    def __init__(self, dtype):
        timesteps, original = 1000, 50
        self.skip_steps = timesteps // original
        ac = torch.tensor(AC32, dtype=torch.float32).to(dtype)
        valid = torch.zeros(original, dtype=dtype)
        for x in range(original):
            valid[original - 1 - x] = ac[timesteps - 1 - x * self.skip_steps]
        super().__init__(None, valid, quantize=None)

    def get_sigmas(self, n=None):
        start = self.sigma_to_t(self.sigma_max)
        end = self.sigma_to_t(self.sigma_min)
        t = torch.linspace(start, end, n)
        return sampling.append_zero(self.t_to_sigma(t))

    def sigma_to_t(self, sigma, quantize=None):
        log_sigma = sigma.log()
        dists = log_sigma - self.log_sigmas[:, None]
        return dists.abs().argmin(dim=0).view(sigma.shape) * self.skip_steps + (self.skip_steps - 1)

    def t_to_sigma(self, timestep):
        t = torch.clamp(((timestep - (self.skip_steps - 1)) / self.skip_steps).float(), min=0,
                        max=(len(self.sigmas) - 1))
        return super().t_to_sigma(t)

    def scalings(self, sigma):
        """get_scaled_out's c_skip, c_out (denoised = c_out * (x - sigma*eps) + c_skip * x)."""
        sigma_data = 0.5
        st = self.sigma_to_t(sigma) * 10.0
        c_skip = sigma_data ** 2 / (st ** 2 + sigma_data ** 2)
        c_out = st / (st ** 2 + sigma_data ** 2) ** 0.5
        return c_skip, c_out


# ---------------------------------------------------------------------------
# schedulers: k-diffusion's, and A1111 sd_schedulers.py for the others


def table_tensor(vals, dtype):
    # A1111 returns torch.FloatTensor(sigs); the float64 run keeps float64
    return torch.tensor([float(v) for v in vals], dtype=dtype)


def sigmas_for(model, name, n, dtype):
    smin, smax = model.sigmas[0].item(), model.sigmas[-1].item()
    if name == "normal":
        s = model.get_sigmas(n)
        # A1111's normal_scheduler gives the same table (sigma_to_t(max) = t_max, sigma_to_t(min) = 0)
        start = model.sigma_to_t(torch.tensor(smax, dtype=dtype))
        end = model.sigma_to_t(torch.tensor(smin, dtype=dtype))
        alt = sampling.append_zero(model.t_to_sigma(torch.linspace(start, end, n)))
        assert torch.equal(alt.to(s.dtype), s), "normal_scheduler != get_sigmas"
        return s
    if name == "karras":
        return sampling.get_sigmas_karras(n, smin, smax, rho=7.0)
    if name == "exponential":
        return sampling.get_sigmas_exponential(n, smin, smax)
    if name == "sgm_uniform":      # A1111 sgm_uniform
        start = model.sigma_to_t(torch.tensor(smax, dtype=dtype))
        end = model.sigma_to_t(torch.tensor(smin, dtype=dtype))
        sigs = [model.t_to_sigma(ts) for ts in torch.linspace(start, end, n + 1)[:-1]]
        return table_tensor(sigs + [0.0], dtype)
    if name == "simple":           # A1111 simple_scheduler (= ComfyUI simple_scheduler)
        sigs = []
        ss = len(model.sigmas) / n
        for x in range(n):
            sigs += [float(model.sigmas[-(1 + int(x * ss))])]
        return table_tensor(sigs + [0.0], dtype)
    if name == "ddim_uniform":     # A1111 ddim_scheduler (= ComfyUI ddim_scheduler for SD)
        sigs = []
        ss = max(len(model.sigmas) // n, 1)
        x = 1
        while x < len(model.sigmas):
            sigs += [float(model.sigmas[x])]
            x += ss
        return table_tensor(sigs[::-1] + [0.0], dtype)
    raise ValueError(name)


def ddim_timesteps(steps):
    """A1111 CompVisSampler.get_timesteps."""
    return torch.clip(torch.asarray(list(range(0, 1000, 1000 // steps))) + 1, 0, 999)


# ---------------------------------------------------------------------------
# deterministic model and noise

SHAPE = (2, 4, 5, 7)
NUMEL = int(np.prod(SHAPE))
PATTERN = 0.5 * np.sin(0.37 * np.arange(NUMEL, dtype=np.float64) + 0.1)
SEEDS = [12345, 12346]
POOL_DRAWS = 24
_g = torch.Generator().manual_seed(20240607)
NOISE0 = torch.randn(SHAPE, generator=_g, dtype=torch.float32)
POOL = torch.randn((POOL_DRAWS,) + SHAPE, generator=_g, dtype=torch.float32)


def eps_model(u, sigma):
    p = torch.tensor(PATTERN, dtype=u.dtype).reshape(u.shape)
    return 0.8 * torch.tanh(0.6 * u + p + 0.05 * sigma) + 0.5 * u


class ToyDenoiser:
    """CompVisDenoiser around eps_model: D = x - sigma * eps(x * c_in, sigma)."""

    def __call__(self, x, sigma, **kw):
        s = sigma.reshape(-1)[0].to(x.dtype)
        c_in = 1.0 / (s ** 2 + 1.0) ** 0.5
        return x - s * eps_model(x * c_in, s)


class TorchHijack:
    """A1111's TorchHijack: k-diffusion's torch.randn_like returns the next stored draw."""

    def __init__(self, dtype):
        self.dtype = dtype
        self.draws = 0
        self.seen = []   # the x of each call: euler/heun/dpm2 draw at the top of each step


    def __getattr__(self, item):
        if item == "randn_like":
            return self.randn_like
        return getattr(torch, item)

    def randn_like(self, x):
        if self.draws >= POOL_DRAWS:
            raise RuntimeError("noise pool exhausted")
        out = POOL[self.draws].to(self.dtype)
        self.seen.append(x.clone())
        self.draws += 1
        return out


def splitmix64(z):
    with np.errstate(over="ignore"):
        z = z + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def fake_randn_np(seed, n):
    with np.errstate(over="ignore"):
        k = np.arange(n, dtype=np.uint64)
        z = splitmix64(np.uint64(seed) * np.uint64(0x9E3779B97F4A7C15) + k)
    u = (z >> np.uint64(40)).astype(np.float64) / 16777216.0
    return ((u - 0.5) * math.sqrt(12.0)).astype(np.float32)


def fake_randn(size, dtype, device, seed):
    """Stands in for A1111's torchsde_randn (= randn_local(seed, size))."""
    n = int(np.prod(size)) if len(size) else 1
    return torch.from_numpy(fake_randn_np(int(seed), n)).reshape(size).to(dtype)


bi._randn = fake_randn   # exactly where A1111 patches torchsde


# ---------------------------------------------------------------------------
# samplers: k-diffusion's, and A1111's DDIM and LCM


def sample_lcm(model, x, sigmas, extra_args=None, callback=None, disable=None, noise_sampler=None):
    """A1111 sd_samplers_lcm.sample_lcm (ComfyUI's is the same for eps models)."""
    noise_sampler = sampling.default_noise_sampler(x) if noise_sampler is None else noise_sampler
    s_in = x.new_ones([x.shape[0]])
    for i in range(len(sigmas) - 1):
        denoised = model(x, sigmas[i] * s_in)
        if callback is not None:
            callback({"x": x, "i": i, "denoised": denoised})
        x = denoised
        if sigmas[i + 1] > 0:
            x = x + sigmas[i + 1] * noise_sampler(sigmas[i], sigmas[i + 1])
    return x


def ddim_a1111(x, timesteps, ac, sigma_table, eta, callback):
    """A1111 sd_samplers_timesteps_impl.ddim; the model is eps_model at sigma(t)."""
    alphas = ac[timesteps]
    alphas_prev = ac[torch.nn.functional.pad(timesteps[:-1], pad=(1, 0))].to(torch.float64)
    sqrt_one_minus_alphas = torch.sqrt(1 - alphas)
    sigmas = eta * np.sqrt((1 - alphas_prev.cpu().numpy()) / (1 - alphas.cpu()) *
                           (1 - alphas.cpu() / alphas_prev.cpu().numpy()))
    s_in = x.new_ones((x.shape[0]))
    s_x = x.new_ones((x.shape[0], 1, 1, 1))
    for i in range(len(timesteps) - 1):
        index = len(timesteps) - 1 - i
        e_t = eps_model(x, sigma_table[timesteps[index]].to(x.dtype))
        a_t = alphas[index].item() * s_x
        a_prev = alphas_prev[index].item() * s_x
        sigma_t = sigmas[index].item() * s_x
        sqrt_one_minus_at = sqrt_one_minus_alphas[index].item() * s_x
        pred_x0 = (x - sqrt_one_minus_at * e_t) / a_t.sqrt()
        dir_xt = (1. - a_prev - sigma_t ** 2).sqrt() * e_t
        noise = sigma_t * sampling.torch.randn_like(x)
        x = a_prev.sqrt() * pred_x0 + dir_xt + noise
        callback({"x": x, "i": i})
    return x


KD = {
    "euler": sampling.sample_euler,
    "euler_a": sampling.sample_euler_ancestral,
    "heun": sampling.sample_heun,
    "dpm2": sampling.sample_dpm_2,
    "dpm++2s_a": sampling.sample_dpmpp_2s_ancestral,
    "dpm++2m": sampling.sample_dpmpp_2m,
    "dpm++2m_sde": sampling.sample_dpmpp_2m_sde,
    "lms": sampling.sample_lms,
    "lcm": sample_lcm,
}


def sampler_table(model, sampler, sched, steps, dtype):
    """The table A1111 hands the sampler (KDiffusionSampler.get_sigmas)."""
    discard = sampler == "dpm2"
    s = sigmas_for(model, sched, steps + (1 if discard else 0), dtype)
    if discard:
        s = torch.cat([s[:-2], s[-1:]])
    return s


def run_case(sampler, sched, steps, dtype, opts):
    """One trajectory. The sigma table is always built in float64 and rounded to
    `dtype`, so that the float32 run measures the sampler's own float32 rounding
    (the schedulers are compared separately, in float64)."""
    torch.set_default_dtype(torch.float64)
    model = model_schedule(torch.float64)
    if sampler == "ddim":
        ts = ddim_timesteps(steps)
        table = torch.flip(model.sigmas[ts], [0])
    else:
        table = sampler_table(model, sampler, sched, steps, torch.float64)
    table = table.to(dtype)
    torch.set_default_dtype(dtype)
    try:
        hijack = TorchHijack(dtype)
        sampling.torch = hijack
        after1 = {}

        if sampler == "ddim":
            ac = torch.tensor(AC32, dtype=torch.float32).to(dtype)
            sig = model.sigmas.to(dtype)
            x = NOISE0.to(dtype)

            def cb_ddim(d):
                if d["i"] == 0:
                    after1["x"] = d["x"].clone()

            x = ddim_a1111(x, ts, ac, sig, opts.get("eta", 0.0), cb_ddim)
        else:
            def cb(d):
                if d["i"] == 1:
                    after1["x"] = d["x"].clone()

            x = NOISE0.to(dtype) * table[0]
            kw = {}
            if "eta" in opts:
                kw["eta"] = opts["eta"]
            if "s_churn" in opts:
                kw["s_churn"] = opts["s_churn"]
            if sampler == "dpm++2m_sde":
                if opts.get("brownian", True):
                    # A1111 create_noise_sampler: per-image trees seeded with the image seeds,
                    # queried at float32 sigmas (A1111's sigma tensors are float32)
                    f32 = lambda v: torch.tensor(float(v), dtype=torch.float32)  # noqa: E731
                    pos = table[table > 0]
                    ns = sampling.BrownianTreeNoiseSampler(x, f32(pos.min()), f32(table.max()), seed=SEEDS)
                    kw["noise_sampler"] = lambda s, sn: ns(f32(s), f32(sn)).to(dtype)
                else:
                    kw["noise_sampler"] = sampling.default_noise_sampler(x)
            x = KD[sampler](ToyDenoiser(), x, table, callback=cb, disable=True, **kw)
        x1 = after1.get("x", x)
        if sampler in ("euler", "heun", "dpm2") and len(hijack.seen) > 1:
            # their callback sees x after step 2's churn; the draw at the top of step 2 sees x after step 1
            x1 = hijack.seen[1]
        return table, x1.clone(), x.clone(), hijack.draws
    finally:
        sampling.torch = torch
        torch.set_default_dtype(torch.float32)


# ---------------------------------------------------------------------------


def main():
    # torchsde warns when a query is clamped to the rounded interval ends, as A1111's are
    warnings.filterwarnings("ignore", message="Should have")
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    os.makedirs(OUT, exist_ok=True)
    t = {}
    f64 = torch.float64

    def put64(k, v):
        t[k] = torch.as_tensor(v).to(torch.float64).contiguous().clone()

    def put32(k, v):
        t[k] = torch.as_tensor(v).to(torch.float32).contiguous().clone()

    # model schedule
    model = model_schedule(f64)
    put32("schedule/alphas_cumprod", AC32)
    put64("schedule/sigmas", model.sigmas)
    # sigma <-> t, k-diffusion DiscreteSchedule
    g = np.random.default_rng(7)
    probe_sigmas = np.concatenate([model.sigmas.numpy()[[0, 1, 2, 500, 998, 999]],
                                   np.exp(g.uniform(np.log(0.0292), np.log(14.61), 40)), [0.01, 20.0]])
    put64("schedule/probe_sigma", probe_sigmas)
    put64("schedule/probe_sigma_t", model.sigma_to_t(torch.tensor(probe_sigmas)))
    probe_t = np.concatenate([[0.0, 1.0, 998.5, 999.0], g.uniform(0, 999, 40)])
    put64("schedule/probe_t", probe_t)
    put64("schedule/probe_t_sigma", model.t_to_sigma(torch.tensor(probe_t)))

    # scheduler tables, float64 (what loom computes) for many step counts
    scheds = ["normal", "karras", "exponential", "sgm_uniform", "simple", "ddim_uniform"]
    step_list = [1, 2, 3, 7, 10, 20, 50, 999, 1000, 1001]
    torch.set_default_dtype(f64)
    for sc in scheds:
        for n in step_list:
            put64(f"sigmas/{sc}/{n}", sigmas_for(model, sc, n, f64))
    # A1111 LCM schedule
    lcm = LCMDenoiser(f64)
    put64("lcm/sigmas", lcm.sigmas)
    for sc in scheds:
        for n in [1, 2, 4, 8, 50]:
            put64(f"lcm_sigmas/{sc}/{n}", sigmas_for(lcm, sc, n, f64))
    lcm_probe = torch.tensor(np.concatenate([lcm.sigmas.numpy()[[0, 1, 25, 49]], probe_sigmas[6:20]]))
    put64("lcm/probe_sigma", lcm_probe)
    put64("lcm/probe_sigma_t", lcm.sigma_to_t(lcm_probe).to(f64))
    c_skip, c_out = lcm.scalings(lcm_probe)
    put64("lcm/probe_c_skip", c_skip)
    put64("lcm/probe_c_out", c_out)
    torch.set_default_dtype(torch.float32)

    # DPM2's discarded penultimate sigma and DDIM's timesteps
    for n in [1, 2, 10, 20]:
        for sc in ["normal", "karras"]:
            torch.set_default_dtype(f64)
            put64(f"table/dpm2/{sc}/{n}", sampler_table(model, "dpm2", sc, n, f64))
            torch.set_default_dtype(torch.float32)
    for n in [1, 2, 3, 7, 10, 20, 999, 1000]:
        put64(f"table/ddim/{n}", torch.flip(model.sigmas[ddim_timesteps(n)], [0]))

    # LMS coefficients (scipy quad, as k-diffusion calls it)
    for sc, n in [("karras", 10), ("normal", 20), ("sgm_uniform", 7), ("exponential", 3)]:
        torch.set_default_dtype(f64)
        sig = sigmas_for(model, sc, n, f64).numpy()
        torch.set_default_dtype(torch.float32)
        c = np.zeros((n, 4))
        for i in range(n):
            order = min(i + 1, 4)
            for j in range(order):
                c[i, j] = sampling.linear_multistep_coeff(order, sig, i, j)
        put64(f"lms/{sc}/{n}/sigmas", sig)
        put64(f"lms/{sc}/{n}/coeffs", c)

    # numpy SeedSequence as torchsde uses it
    ent = [0, 1, 12345, 2 ** 32 - 1, 2 ** 40 + 5]
    keys = [None, (0, 0), (1, 1), (5, 3), (2 ** 33 + 1, 34)]
    ss = np.zeros((len(ent), len(keys), 4), dtype=np.int64)
    for a, e in enumerate(ent):
        for b, k in enumerate(keys):
            if k is None:
                ss[a, b, :3] = np.random.SeedSequence(entropy=e, pool_size=24).generate_state(3)
            else:
                ss[a, b] = np.random.SeedSequence(entropy=e, spawn_key=k, pool_size=24).generate_state(4)
    t["seedseq/state"] = torch.tensor(ss)
    t["fake_randn/7/12"] = torch.from_numpy(fake_randn_np(7, 12))

    # Brownian tree, float32 like A1111: queries along a karras table and a few odd ones
    torch.set_default_dtype(f64)
    ktab = sigmas_for(model, "karras", 20, f64).to(torch.float32)
    torch.set_default_dtype(torch.float32)
    smin, smax = ktab[ktab > 0].min(), ktab.max()
    tree = torchsde.BrownianTree(smin, torch.zeros(SHAPE[1:], dtype=torch.float32), smax, entropy=SEEDS[0])
    q = [(float(ktab[i + 1]), float(ktab[i])) for i in range(19)]
    q += [(float(smin), float(smax)), (1.0, 1.5), (0.5, 0.5000031), (3.0, 14.0), (0.03, 0.031)]
    w = np.stack([tree(a, b).numpy() for a, b in q])
    put64("brownian/t01", [float(smin), float(smax)])
    put64("brownian/queries", q)
    put32("brownian/w", w)

    # trajectories
    put32("traj/noise0", NOISE0)
    put32("traj/pool", POOL.reshape(POOL_DRAWS, NUMEL))  # <= 4 dims for loom_tensor
    put64("traj/pattern", PATTERN)
    t["traj/seeds"] = torch.tensor(SEEDS, dtype=torch.int64)
    cases = []
    for s in ["euler", "euler_a", "heun", "dpm2", "dpm++2s_a", "dpm++2m", "dpm++2m_sde", "lms", "lcm"]:
        for sc in ["normal", "karras"]:
            for n in [1, 2, 10, 20]:
                # k-diffusion's dpmpp_2m_sde raises for one step (h_last = h before h is set)
                if not (s == "dpm++2m_sde" and n == 1):
                    cases.append((s, sc, n, {}, ""))
    for s in ["euler", "dpm++2m"]:
        for sc in ["exponential", "sgm_uniform", "simple", "ddim_uniform"]:
            for n in [1, 2, 10, 20]:
                cases.append((s, sc, n, {}, ""))
    for n in [1, 2, 3, 10, 20]:
        cases.append(("ddim", "ddim", n, {}, ""))
    cases += [
        ("ddim", "ddim", 10, {"eta": 1.0}, "eta1"),
        ("dpm++2m_sde", "exponential", 10, {}, ""),
        ("dpm++2m_sde", "exponential", 20, {}, ""),
        ("dpm++2m_sde", "karras", 10, {"brownian": False}, "plain"),
        ("dpm++2m_sde", "karras", 10, {"eta": 0.0}, "eta0"),
        ("euler_a", "karras", 10, {"eta": 0.5}, "eta05"),
        ("dpm++2s_a", "karras", 10, {"eta": 0.0}, "eta0"),
        ("euler", "normal", 10, {"s_churn": 1.0}, "churn1"),
        ("heun", "karras", 10, {"s_churn": 2.0}, "churn2"),
        ("dpm2", "karras", 10, {"s_churn": 1.0}, "churn1"),
    ]
    worst = 0.0
    for s, sc, n, opts, tag in cases:
        key = f"traj/{s}/{sc}/{n}" + (f"/{tag}" if tag else "")
        table, x1, x, draws = run_case(s, sc, n, f64, opts)
        table32, x1_32, x32, draws32 = run_case(s, sc, n, torch.float32, opts)
        assert draws == draws32
        put64(key + "/sigmas", table)
        put64(key + "/x1", x1)
        put64(key + "/x", x)
        put32(key + "/x1_f32", x1_32)
        put32(key + "/x_f32", x32)
        t[key + "/draws"] = torch.tensor([draws], dtype=torch.int64)
        # the options the test must pass: eta (A1111 default: 1, DDIM 0), s_churn, Brownian noise
        eta = opts.get("eta", 0.0 if s == "ddim" else 1.0)
        brownian = 1.0 if s == "dpm++2m_sde" and opts.get("brownian", True) else 0.0
        put64(key + "/opts", [eta, opts.get("s_churn", 0.0), brownian])
        rel = (torch.linalg.norm(x32.double() - x) / torch.linalg.norm(x)).item()
        worst = max(worst, rel)
        print(f"{key:44s} steps={len(table) - 1:3d} draws={draws:2d} f32 rel err {rel:.2e}")
    print("cases", len(cases), "worst f32 rel err", f"{worst:.2e}")

    from safetensors.torch import save_file
    path = os.path.join(OUT, "sampler.safetensors")
    save_file(t, path, metadata={"generator": "scripts/gen_fixtures_sampler.py",
                                 "k-diffusion": "0.1.1.post1", "torchsde": torchsde.__version__})
    print("wrote", path, os.path.getsize(path), "bytes,", len(t), "tensors")


if __name__ == "__main__":
    main()
