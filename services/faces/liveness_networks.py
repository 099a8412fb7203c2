"""MiniFASNet V2 and V1SE: the passive anti-spoofing networks of Silent-Face-Anti-Spoofing.

Each network takes an 80x80 crop of a face with context around it (see
:mod:`services.faces.liveness`) in **BGR** order with raw 0-255 values, and returns three
logits: class 1 is a live face, classes 0 and 2 are attacks (a print, a screen).

The layout is the published one (a MobileFaceNet-like stack of depthwise-separable blocks with
pruned widths); the widths below are those of the official weights, so that their state_dicts
load with ``strict=True``. V1SE adds a squeeze-and-excitation gate to the last residual block
of each stage. Dropout of the training code is left out: it does nothing at inference.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from services.common.model_files import LIVENESS_V1SE, LIVENESS_V2

INPUT_SIZE = 80
EMBEDDING_SIZE = 128
CLASSES = 3
LIVE_CLASS = 1


class ConvBlock(nn.Module):
    """Convolution, batch norm and (unless ``linear``) a per-channel PReLU."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel: int = 1,
        stride: int = 1,
        padding: int = 0,
        groups: int = 1,
        *,
        linear: bool = False,
    ) -> None:
        super().__init__()
        self.conv = nn.Conv2d(
            in_channels, out_channels, kernel, stride, padding, groups=groups, bias=False
        )
        self.bn = nn.BatchNorm2d(out_channels)
        # Registered only when used: the weights of a linear block have no PReLU entry.
        self.prelu = None if linear else nn.PReLU(out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.bn(self.conv(x))
        return x if self.prelu is None else self.prelu(x)


class SqueezeExcite(nn.Module):
    """Channel gate: global average, squeeze by ``reduction``, excite, sigmoid, rescale."""

    def __init__(self, channels: int, reduction: int = 4) -> None:
        super().__init__()
        squeezed = channels // reduction
        self.fc1 = nn.Conv2d(channels, squeezed, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(squeezed)
        self.fc2 = nn.Conv2d(squeezed, channels, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gate = x.mean(dim=(2, 3), keepdim=True)
        gate = torch.relu(self.bn1(self.fc1(gate)))
        gate = torch.sigmoid(self.bn2(self.fc2(gate)))
        return x * gate


class DepthwiseBlock(nn.Module):
    """Expand (1x1), depthwise 3x3, project (1x1, linear); a shortcut when shapes allow."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        expanded: int,
        stride: int,
        *,
        residual: bool,
        squeeze_excite: bool = False,
    ) -> None:
        super().__init__()
        self.residual = residual
        self.conv = ConvBlock(in_channels, expanded)
        self.conv_dw = ConvBlock(expanded, expanded, 3, stride, 1, groups=expanded)
        self.project = ConvBlock(expanded, out_channels, linear=True)
        self.se_module = SqueezeExcite(out_channels) if squeeze_excite else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.project(self.conv_dw(self.conv(x)))
        if self.se_module is not None:
            out = self.se_module(out)
        return x + out if self.residual else out


class ResidualStage(nn.Module):
    """Stride-1 residual blocks of one width; V1SE gates the last one."""

    def __init__(self, channels: int, expansions: Sequence[int], *, squeeze_excite: bool) -> None:
        super().__init__()
        last = len(expansions) - 1
        self.model = nn.Sequential(
            *(
                DepthwiseBlock(
                    channels,
                    channels,
                    expanded,
                    1,
                    residual=True,
                    squeeze_excite=squeeze_excite and index == last,
                )
                for index, expanded in enumerate(expansions)
            )
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


@dataclass(frozen=True)
class Widths:
    """The pruned expansion widths of one variant, read off its official weights."""

    stage3: tuple[int, ...]
    stage4: tuple[int, ...]
    stage5: tuple[int, ...]
    # The downsampling blocks between stages are the same in both variants.
    down23: int = 103
    down34: int = 231
    down45: int = 308


V2_WIDTHS = Widths(stage3=(13, 13, 13, 13), stage4=(231, 52, 26, 77, 26, 26), stage5=(26, 26))
V1SE_WIDTHS = Widths(stage3=(13, 26, 13, 52), stage4=(154, 52, 26, 52, 26, 26), stage5=(26, 26))


class MiniFASNet(nn.Module):
    """80x80 BGR crop -> 3 logits (class 1 = live)."""

    def __init__(self, widths: Widths, *, squeeze_excite: bool) -> None:
        super().__init__()
        se = squeeze_excite
        self.conv1 = ConvBlock(3, 32, 3, 2, 1)  # 80 -> 40
        self.conv2_dw = ConvBlock(32, 32, 3, 1, 1, groups=32)
        self.conv_23 = DepthwiseBlock(32, 64, widths.down23, 2, residual=False)  # -> 20
        self.conv_3 = ResidualStage(64, widths.stage3, squeeze_excite=se)
        self.conv_34 = DepthwiseBlock(64, 128, widths.down34, 2, residual=False)  # -> 10
        self.conv_4 = ResidualStage(128, widths.stage4, squeeze_excite=se)
        self.conv_45 = DepthwiseBlock(128, 128, widths.down45, 2, residual=False)  # -> 5
        self.conv_5 = ResidualStage(128, widths.stage5, squeeze_excite=se)
        self.conv_6_sep = ConvBlock(128, 512)
        # A 5x5 depthwise kernel over the 5x5 map: a learned pooling to one value per channel.
        self.conv_6_dw = ConvBlock(512, 512, 5, groups=512, linear=True)
        self.linear = nn.Linear(512, EMBEDDING_SIZE, bias=False)
        self.bn = nn.BatchNorm1d(EMBEDDING_SIZE)
        self.prob = nn.Linear(EMBEDDING_SIZE, CLASSES, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv2_dw(self.conv1(x))
        x = self.conv_3(self.conv_23(x))
        x = self.conv_4(self.conv_34(x))
        x = self.conv_5(self.conv_45(x))
        x = self.conv_6_dw(self.conv_6_sep(x))
        return self.prob(self.bn(self.linear(torch.flatten(x, 1))))


@dataclass(frozen=True)
class LivenessModel:
    """One published network: its weights file and the context its crop takes around a face."""

    file_name: str
    # The crop is the face box enlarged by this factor (the number in the file name).
    crop_scale: float
    widths: Widths
    squeeze_excite: bool


MINIFASNET_V2 = LivenessModel(LIVENESS_V2, 2.7, V2_WIDTHS, False)
MINIFASNET_V1SE = LivenessModel(LIVENESS_V1SE, 4.0, V1SE_WIDTHS, True)
LIVENESS_MODELS = (MINIFASNET_V2, MINIFASNET_V1SE)

# The official files were saved from a DataParallel wrapper.
_WRAPPER_PREFIX = "module."


def strip_wrapper_prefix(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The state_dict without the ``module.`` prefix DataParallel adds to every key."""
    return {
        key.removeprefix(_WRAPPER_PREFIX) if key.startswith(_WRAPPER_PREFIX) else key: value
        for key, value in state.items()
    }


def load_network(spec: LivenessModel, path: Path) -> MiniFASNet:
    """The network of ``spec`` with the weights in ``path``, strictly loaded, in eval mode."""
    network = MiniFASNet(spec.widths, squeeze_excite=spec.squeeze_excite)
    state = torch.load(path, map_location="cpu", weights_only=True)
    network.load_state_dict(strip_wrapper_prefix(state), strict=True)
    network.eval()
    return network
