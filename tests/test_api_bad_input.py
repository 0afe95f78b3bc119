"""The public API's entry points refuse wrong types, values and shapes with the project's errors
(InvalidType / InvalidArgument / MissingFile, all UserError), whose message says what was wrong,
never with a bare TypeError or ValueError from deep inside torch or NumPy.

Entry points: load_pretrained, sampling.sample and PretrainedModel.sample, training.train, the
bits/dim estimators (bpd_full, bpd_fast), quality.sample_quality, the GIF writers of
ddpm_edu.viz.gif and flow matching's loss, sampler and ε → velocity map (ddpm_edu.flow).
Everything runs on tiny inputs (a 10-step schedule, a zero network)."""
import pytest
import torch

from ddpm_edu.errors import InvalidArgument, InvalidType, MissingFile, NotWritable, UserError
from ddpm_edu.evaluation import bpd_fast, bpd_full
from ddpm_edu.flow import flow_matching_loss, flow_steps, velocity_from_eps
from ddpm_edu.pretrained import load_pretrained
from ddpm_edu.quality import sample_quality
from ddpm_edu.sampling import sample
from ddpm_edu.schedules import linear_schedule
from ddpm_edu.training import TrainConfig, train
from ddpm_edu.viz.gif import forward_chain_gif, reverse_chain_gif

S = linear_schedule(10)
SHAPE = (1, 4, 4)
IMAGES = torch.randint(0, 256, (3, 1, 4, 4), dtype=torch.uint8)


def zero(x, t):
    return torch.zeros_like(x)


def half(x, t):
    return x[:, :, :2]                                   # the wrong shape


@pytest.fixture(scope="module")
def mnist():
    return load_pretrained("mnist")


@pytest.fixture(scope="module")
def tiny():
    from ddpm_edu.recipes import get_recipe
    recipe = get_recipe("tiny")
    return recipe.build_network(), recipe.build_schedule()


@pytest.fixture
def files(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "notes.txt").write_text("not a checkpoint, not an image\n")
    (tmp_path / "folder").mkdir()
    (tmp_path / "afile").write_text("a file where a folder is expected\n")
    return tmp_path


def _sample(**kw):
    args = dict(model=zero, schedule=S, n=2, shape=SHAPE, steps=3, progress=False)
    return sample(**{**args, **kw})


# (id, call, error class, words in the message)
SAMPLE = [
    ("model None", lambda: _sample(model=None), InvalidType, "model must be callable"),
    ("model int", lambda: _sample(model=3), InvalidType, "model must be callable"),
    ("model wrong shape", lambda: _sample(model=half), InvalidArgument, "shape"),
    ("schedule str", lambda: _sample(schedule="linear"), InvalidType, "Schedule"),
    ("n 0", lambda: _sample(n=0), InvalidArgument, "n (the number of samples)"),
    ("n float", lambda: _sample(n=2.5), InvalidArgument, "n (the number of samples)"),
    ("n str", lambda: _sample(n="2"), InvalidArgument, "n (the number of samples)"),
    ("shape zero", lambda: _sample(shape=(0, 4)), InvalidArgument, "positive ints"),
    ("shape str", lambda: _sample(shape="1x4x4"), InvalidArgument, "positive ints"),
    ("shape float", lambda: _sample(shape=(1, 4.0, 4)), InvalidArgument, "positive ints"),
    ("sampler", lambda: _sample(sampler="euler"), InvalidArgument, "unknown sampler"),
    ("steps 0", lambda: _sample(steps=0), InvalidArgument, "steps must be between 1 and T"),
    ("steps > T", lambda: _sample(steps=11), InvalidArgument, "steps must be between 1 and T"),
    ("steps float", lambda: _sample(steps=2.5), InvalidType, "steps must be an int"),
    ("eta < 0", lambda: _sample(eta=-1.0), InvalidArgument, "eta must be a finite number"),
    ("eta nan", lambda: _sample(eta=float("nan")), InvalidArgument, "eta must be a finite number"),
    ("var_type", lambda: _sample(sampler="ddpm", var_type="learned"), InvalidArgument, "var_type"),
    ("mean_type", lambda: _sample(mean_type="epsilon"), InvalidArgument, "mean_type"),
    ("generator", lambda: _sample(generator=3), InvalidType, "generator must be a torch.Generator"),
    ("seed str", lambda: _sample(seed="abc"), InvalidType, "seed must be an int"),
    ("seed float", lambda: _sample(seed=1.5), InvalidType, "seed must be an int"),
    ("seed huge", lambda: _sample(seed=10**30), InvalidArgument, "seed must lie in"),
    ("batch_size", lambda: _sample(batch_size=0), InvalidArgument, "batch_size"),
    ("device", lambda: _sample(device="foo"), InvalidArgument, "device"),
]

PRETRAINED = [
    ("path int", lambda m: load_pretrained(123), InvalidType, "name_or_path"),
    ("path None", lambda m: load_pretrained(None), InvalidType, "name_or_path"),
    ("missing", lambda m: load_pretrained("nowhere"), MissingFile, "no pretrained model named"),
    ("text file", lambda m: load_pretrained("notes.txt"), UserError, "corrupted"),
    ("folder", lambda m: load_pretrained("folder"), UserError, "has no model.safetensors"),
    ("device", lambda m: load_pretrained("mnist", device="foo"), InvalidArgument, "device"),
    ("build", lambda m: load_pretrained("mnist", build="unet"), InvalidType, "build"),
    ("sample n", lambda m: m.sample(0), InvalidArgument, "n (the number of samples)"),
    ("sample sampler", lambda m: m.sample(2, sampler="euler"), InvalidArgument, "unknown sampler"),
    ("sample steps", lambda m: m.sample(2, steps=5000), InvalidArgument, "between 1 and T"),
    ("sample seed", lambda m: m.sample(2, seed="x"), InvalidType, "seed must be an int"),
    ("sample eta", lambda m: m.sample(2, eta=-1), InvalidArgument, "eta must be a finite"),
]


def _train(tiny, **kw):
    net, schedule = tiny
    args = dict(net=net, schedule=schedule, data=torch.zeros(4, 1, 28, 28, dtype=torch.uint8),
                config=TrainConfig(steps=1, batch_size=2), progress=False)
    return train(**{**args, **kw})


TRAIN = [
    ("net None", lambda n: _train(n, net=None), InvalidType, "net must be a torch.nn.Module"),
    ("schedule", lambda n: _train(n, schedule="linear"), InvalidType, "schedule must be"),
    ("data str", lambda n: _train(n, data="mnist"), InvalidType, "data"),
    ("data list", lambda n: _train(n, data=[[1, 2]]), InvalidType, "data"),
    ("data empty", lambda n: _train(n, data=torch.zeros(0, 1, 28, 28)), InvalidArgument, "data"),
    ("data wrong shape", lambda n: _train(n, data=torch.zeros(4, 1, 8, 8, dtype=torch.uint8)),
     InvalidArgument, "built for inputs (B, 1, 28, 28)"),
    ("config dict", lambda n: _train(n, config={"steps": 1}), InvalidType, "TrainConfig"),
    ("out_dir", lambda n: _train(n, out_dir="afile/sub"), NotWritable, "cannot write"),
    ("callbacks fn", lambda n: _train(n, callbacks=print), InvalidType, "callbacks"),
    ("callbacks int", lambda n: _train(n, callbacks=[1]), InvalidType, "callbacks"),
    ("device", lambda n: _train(n, device="foo"), InvalidArgument, "device"),
    ("extra", lambda n: _train(n, extra={"f": object()}, out_dir="run"), InvalidArgument, "extra"),
    ("resume", lambda n: _train(n, resume=True), UserError, "needs out_dir"),
    ("config seed", lambda n: TrainConfig(seed=10**30), InvalidArgument, "TrainConfig.seed"),
]


def _bpd(fn, **kw):
    args = dict(model=zero, schedule=S, x0=IMAGES, batch_size=2)
    return fn(**{**args, **kw})


BPD = [
    ("model None", lambda: _bpd(bpd_full, model=None), InvalidType, "model must be callable"),
    ("schedule", lambda: _bpd(bpd_full, schedule=1000), InvalidType, "Schedule"),
    ("x0 str", lambda: _bpd(bpd_full, x0="mnist"), InvalidType, "x0 must be"),
    ("x0 scalar", lambda: _bpd(bpd_full, x0=torch.tensor(3)), InvalidArgument, "x0 must have"),
    ("x0 floats", lambda: _bpd(bpd_full, x0=torch.rand(2, 1, 4, 4)), InvalidArgument, "8-bit"),
    ("x0 ints", lambda: _bpd(bpd_full, x0=torch.zeros(2, 4, dtype=torch.long)), InvalidType,
     "dtype"),
    ("model shape", lambda: _bpd(bpd_full, model=half), InvalidArgument, "shape"),
    ("batch_size", lambda: _bpd(bpd_full, batch_size=0), InvalidArgument, "batch_size"),
    ("generator", lambda: _bpd(bpd_full, generator=1), InvalidType, "generator"),
    ("option", lambda: _bpd(bpd_full, variance="small"), InvalidType, "unknown option"),
    ("var_type", lambda: _bpd(bpd_full, var_type="learned"), InvalidArgument, "var_type"),
    ("k 0", lambda: _bpd(bpd_fast, k=0), InvalidArgument, "k"),
    ("k > T", lambda: _bpd(bpd_fast, k=11), InvalidArgument, "k"),
    ("k float", lambda: _bpd(bpd_fast, k=2.5), InvalidArgument, "k"),
    ("always_decoder k 1", lambda: _bpd(bpd_fast, k=1, always_decoder=True), InvalidArgument,
     "always_decoder"),
]

QUALITY = [
    ("images str", lambda: sample_quality("digits.npy"), InvalidType, "images"),
    ("images shape", lambda: sample_quality(torch.zeros(4, 3, 32, 32)), InvalidArgument, "28"),
    ("one image", lambda: sample_quality(torch.zeros(1, 28, 28, dtype=torch.uint8)),
     InvalidArgument, "at least 2"),
    ("threshold", lambda: sample_quality(torch.zeros(4, 28, 28), threshold=2), InvalidArgument,
     "threshold"),
    ("threshold str", lambda: sample_quality(torch.zeros(4, 28, 28), threshold="0.9"),
     InvalidArgument, "threshold"),
    ("classifier path", lambda: sample_quality(torch.zeros(4, 28, 28), classifier="c.pt"),
     InvalidType, "classifier"),
]

X0 = torch.zeros(1, 4, 4)


def _steps():
    from ddpm_edu.sampling import ddim_steps
    return ddim_steps(zero, S, shape=(1, *SHAPE), steps=3)


GIF = [
    ("image text", lambda: forward_chain_gif("notes.txt", "f.gif", S), InvalidArgument,
     "not an image"),
    ("image folder", lambda: forward_chain_gif("folder", "f.gif", S), InvalidArgument,
     "is a folder"),
    ("image missing", lambda: forward_chain_gif("nowhere.png", "f.gif", S), MissingFile,
     "not found"),
    ("image int", lambda: forward_chain_gif(3, "f.gif", S), InvalidType, "image"),
    ("schedule", lambda: forward_chain_gif(X0, "f.gif", "linear"), InvalidType, "Schedule"),
    ("n_frames 0", lambda: forward_chain_gif(X0, "f.gif", S, n_frames=0), InvalidArgument,
     "n_frames"),
    ("spacing", lambda: forward_chain_gif(X0, "f.gif", S, spacing="log"), InvalidArgument,
     "spacing"),
    ("duration", lambda: forward_chain_gif(X0, "f.gif", S, duration_ms=-1), InvalidArgument,
     "duration_ms"),
    ("scale 0", lambda: forward_chain_gif(X0, "f.gif", S, scale=0), InvalidArgument, "scale"),
    ("nrow 0", lambda: forward_chain_gif(X0, "f.gif", S, nrow=0), InvalidArgument, "nrow"),
    ("steps int", lambda: reverse_chain_gif(3, "r.gif", S), InvalidType, "steps"),
    ("steps empty", lambda: reverse_chain_gif([], "r.gif", S), InvalidArgument, "no frames"),
    ("reverse schedule", lambda: reverse_chain_gif(_steps(), "r.gif", None), InvalidType,
     "Schedule"),
]


POINTS = torch.zeros(3, 2)


def _flow(**kw):
    return flow_steps(**{**dict(model=zero, x_1=POINTS, steps=4), **kw})


FLOW = [
    ("loss net None", lambda: flow_matching_loss(None, POINTS), InvalidType,
     "net must be callable"),
    ("loss x0 list", lambda: flow_matching_loss(zero, [[0.0, 1.0]]), InvalidType, "x0 must be"),
    ("loss levels 0", lambda: flow_matching_loss(zero, POINTS, levels=0), InvalidArgument,
     "levels must be a positive int"),
    ("loss t float", lambda: flow_matching_loss(zero, POINTS, t=torch.full((3,), 0.5)),
     InvalidType, "integer"),
    ("loss t > levels", lambda: flow_matching_loss(zero, POINTS, t=torch.full((3,), 11), levels=10),
     InvalidArgument, "0..10"),
    ("loss wrong shape", lambda: flow_matching_loss(lambda y, k: y[:, :1], POINTS),
     InvalidArgument, "velocity shaped like y"),
    ("loss generator", lambda: flow_matching_loss(zero, POINTS, generator=3), InvalidType,
     "generator must be a torch.Generator"),
    ("steps model None", lambda: _flow(model=None), InvalidType, "model must be callable"),
    ("steps 0", lambda: _flow(steps=0), InvalidArgument, "between 1 and levels"),
    ("steps > levels", lambda: _flow(steps=11, levels=10), InvalidArgument, "between 1 and levels"),
    ("steps float", lambda: _flow(steps=2.5), InvalidType, "steps must be an int"),
    ("method", lambda: _flow(method="rk4"), InvalidArgument, "method"),
    ("no noise", lambda: _flow(x_1=None), InvalidArgument, "give the initial noise x_1"),
    ("shape clash", lambda: _flow(shape=(4, 2)), InvalidArgument, "x_1 has shape (3, 2)"),
    ("velocity t 0", lambda: velocity_from_eps(S, POINTS, POINTS, 0), InvalidArgument, "1..10"),
    ("velocity schedule", lambda: velocity_from_eps("linear", POINTS, POINTS, 1), InvalidType,
     "Schedule"),
]


def _check(call, error, words):
    with pytest.raises(error) as info:
        call()
    assert isinstance(info.value, UserError)
    assert words in str(info.value), str(info.value)


@pytest.mark.parametrize("call, error, words", [pytest.param(*r[1:], id=r[0]) for r in SAMPLE])
def test_sample(call, error, words):
    _check(call, error, words)


@pytest.mark.parametrize("call, error, words", [pytest.param(*r[1:], id=r[0]) for r in PRETRAINED])
def test_pretrained(call, error, words, mnist, files):
    _check(lambda: call(mnist), error, words)


@pytest.mark.parametrize("call, error, words", [pytest.param(*r[1:], id=r[0]) for r in TRAIN])
def test_train(call, error, words, tiny, files):
    _check(lambda: call(tiny), error, words)


@pytest.mark.parametrize("call, error, words", [pytest.param(*r[1:], id=r[0]) for r in BPD])
def test_bpd(call, error, words):
    _check(call, error, words)


@pytest.mark.parametrize("call, error, words", [pytest.param(*r[1:], id=r[0]) for r in QUALITY])
def test_sample_quality(call, error, words):
    _check(call, error, words)


@pytest.mark.parametrize("call, error, words", [pytest.param(*r[1:], id=r[0]) for r in FLOW])
def test_flow(call, error, words):
    _check(call, error, words)


@pytest.mark.parametrize("call, error, words", [pytest.param(*r[1:], id=r[0]) for r in GIF])
def test_gif(call, error, words, files):
    _check(call, error, words)


def test_train_checks_the_folder_before_the_first_step(tiny, files):
    seen = []
    with pytest.raises(NotWritable):
        _train(tiny, out_dir="afile/sub", callbacks=[seen.append])
    assert seen == []
