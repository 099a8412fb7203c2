"""Labeled Faces in the Wild: its pairs files, the photos they name, and the person to use.

A pairs file (LFW's own format, used by View 1's ``pairsDevTrain.txt``/``pairsDevTest.txt``
and View 2's ``pairs.txt``) starts with a header line, then the pairs, fold after fold:

* header ``N``: one fold of N same-person pairs followed by N different-person pairs;
  header ``F N``: F folds, each N same-person pairs then N different-person pairs;
* same-person line ``Name<TAB>i<TAB>j``; different-person line ``Name1<TAB>i<TAB>Name2<TAB>j``;
* photo ``i`` of ``Name`` is ``Name/Name_{i:04d}.jpg`` under LFW's ``lfw/`` folder.

Each photo shows the labelled person nearest its centre (others may be in the picture).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, TypeVar

# LFW's images are under lfw/ in both views' archives; the folder given may be either level.
PHOTOS_SUBFOLDER = "lfw"


class PairsFormatError(ValueError):
    """A pairs file that is not in LFW's format; the message names the line and what it
    should have been."""


@dataclass(frozen=True, order=True)
class LfwPhoto:
    """Photo ``number`` (from 1) of the person ``name``."""

    name: str
    number: int

    @property
    def relative_path(self) -> str:
        return f"{self.name}/{self.name}_{self.number:04d}.jpg"


@dataclass(frozen=True)
class PhotoPair:
    first: LfwPhoto
    second: LfwPhoto
    fold: int

    @property
    def same_person(self) -> bool:
        return self.first.name == self.second.name


@dataclass(frozen=True)
class PairsFile:
    folds: int
    pairs_per_fold: int
    pairs: tuple[PhotoPair, ...]

    @property
    def photos(self) -> list[LfwPhoto]:
        """Every photo the pairs use, once, sorted by person and number."""
        return sorted({photo for pair in self.pairs for photo in (pair.first, pair.second)})

    @property
    def photos_of(self) -> dict[str, list[LfwPhoto]]:
        """Each person's photos in the file, in LFW's order (by number)."""
        people: dict[str, list[LfwPhoto]] = {}
        for photo in self.photos:
            people.setdefault(photo.name, []).append(photo)
        return people


def read_pairs(path: Path) -> PairsFile:
    return parse_pairs(Path(path).read_text(encoding="utf-8"), source=str(path))


def parse_pairs(text: str, source: str = "pairs file") -> PairsFile:
    """The pairs of a file in LFW's format; :class:`PairsFormatError` names the first problem.

    Blank lines are ignored; every other line must be where the header says it is.
    """
    lines = [(number, line.split()) for number, line in enumerate(text.splitlines(), 1)]
    lines = [(number, fields) for number, fields in lines if fields]
    if not lines:
        raise PairsFormatError(f"{source} is empty; expected LFW's pairs format")
    header_line, header = lines[0]
    folds, per_fold = _header(header, source, header_line)
    body = lines[1:]
    expected = folds * 2 * per_fold
    pairs = []
    for index, (number, fields) in enumerate(body[:expected]):
        fold, position = divmod(index, 2 * per_fold)
        same = position < per_fold
        where = (
            f"{source} line {number} (fold {fold + 1}, "
            f"{'same' if same else 'different'}-person pair "
            f"{position % per_fold + 1} of {per_fold})"
        )
        pairs.append(_pair(fields, same, fold, where))
    if len(body) != expected:
        raise PairsFormatError(
            f"{source}: the header promises {expected} pair lines ({folds} fold(s) of "
            f"{per_fold} same-person + {per_fold} different-person), the file has {len(body)}"
        )
    return PairsFile(folds, per_fold, tuple(pairs))


def _header(fields: list[str], source: str, line: int) -> tuple[int, int]:
    if len(fields) in (1, 2) and all(field.isdigit() and int(field) > 0 for field in fields):
        numbers = [int(field) for field in fields]
        return (1, numbers[0]) if len(numbers) == 1 else (numbers[0], numbers[1])
    raise PairsFormatError(
        f"{source} line {line}: expected a header 'N' (one fold of N + N pairs) or "
        f"'FOLDS N' (e.g. '10 300'), got {' '.join(fields)!r}"
    )


def _pair(fields: list[str], same: bool, fold: int, where: str) -> PhotoPair:
    if same:
        if len(fields) != 3:
            raise PairsFormatError(
                f"{where}: expected 'Name<TAB>i<TAB>j', got {' '.join(fields)!r}"
            )
        name, first, second = fields
        pair = PhotoPair(_photo(name, first, where), _photo(name, second, where), fold)
        if pair.first == pair.second:
            raise PairsFormatError(f"{where}: pairs photo {first} of {name} with itself")
        return pair
    if len(fields) != 4:
        raise PairsFormatError(
            f"{where}: expected 'Name1<TAB>i<TAB>Name2<TAB>j', got {' '.join(fields)!r}"
        )
    first_name, first, second_name, second = fields
    if first_name == second_name:
        raise PairsFormatError(f"{where}: a different-person pair names {first_name} twice")
    return PhotoPair(_photo(first_name, first, where), _photo(second_name, second, where), fold)


def _photo(name: str, number: str, where: str) -> LfwPhoto:
    # A name becomes a folder name: nothing that could step out of the photo folder.
    if "/" in name or "\\" in name or name in (".", ".."):
        raise PairsFormatError(f"{where}: {name!r} is not a person's name")
    if not number.isdigit() or int(number) < 1:
        raise PairsFormatError(
            f"{where}: photo number {number!r} of {name} is not a positive integer"
        )
    return LfwPhoto(name, int(number))


def photo_folder(lfw_dir: Path) -> Path:
    """The folder holding one sub-folder per person: ``lfw_dir/lfw`` or ``lfw_dir`` itself."""
    lfw_dir = Path(lfw_dir)
    nested = lfw_dir / PHOTOS_SUBFOLDER
    return nested if nested.is_dir() else lfw_dir


def missing_photos(folder: Path, photos: Sequence[LfwPhoto]) -> list[str]:
    return [photo.relative_path for photo in photos if not (folder / photo.relative_path).is_file()]


class Boxed(Protocol):
    @property
    def box(self) -> tuple[int, int, int, int]: ...


FaceT = TypeVar("FaceT", bound=Boxed)


def central_face(faces: Sequence[FaceT], width: int, height: int) -> FaceT | None:
    """The face whose box centre is nearest the image centre: LFW's labelled person."""
    if not faces:
        return None

    def distance(face: Boxed) -> float:
        x, y, w, h = face.box
        return (x + w / 2 - width / 2) ** 2 + (y + h / 2 - height / 2) ** 2

    return min(faces, key=distance)
