"""The session catalogue: content follows the minutes, names stay stable, overrides apply."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from calsync import schema
from calsync.core.catalogue import DEFAULT_CATALOGUE, Catalogue, Content
from calsync.core.model import Exercise, SessionKind
from calsync.core.settings import CatalogueEntry

HEAVY = SessionKind.HEAVY_LOWER
LIGHT = SessionKind.LIGHT_LOWER
UPPER = SessionKind.UPPER
CORE = SessionKind.CORE
BODYWEIGHT = SessionKind.BODYWEIGHT
REST = SessionKind.REST

STRENGTH = [
    (HEAVY, "heavy"),
    (HEAVY, "moderate"),
    (LIGHT, "light"),
    (UPPER, None),
    (CORE, None),
    (BODYWEIGHT, None),
]
LOWER = [(HEAVY, "heavy"), (HEAVY, "moderate"), (LIGHT, "light")]

PRESCRIPTION = re.compile(r"^(\d+) x \S")
UPPER_NAMES = {"Dumbbell bench press", "One-arm dumbbell row", "Push-up", "Band row"}
STABILITY_NAMES = {
    "Copenhagen plank",
    "Side plank",
    "Single-leg glute bridge",
    "Single-leg balance with reach",
}

# Independent lower bounds on one set with its rest, in minutes: the first two moves of a heavy
# or moderate lower session are its main lifts; everything else takes at least a minute a set.
MAIN_LIFT_MINUTES = {"heavy": 2.5, "moderate": 2.0}

CAT = Catalogue()


def sets_of(exercise_prescription: str) -> int:
    match = PRESCRIPTION.match(exercise_prescription)
    assert match, exercise_prescription
    return int(match.group(1))


def names(content: Content) -> list[str]:
    return [e.name for e in content.exercises]


def floor_minutes(content: Content, load: str | None) -> float:
    """The least time the content can take: 5 min warm-up plus each set at its lower bound."""
    total = 5.0
    for i, exercise in enumerate(content.exercises):
        per_set = MAIN_LIFT_MINUTES.get(load or "", 1.0) if i < 2 else 1.0
        total += sets_of(exercise.prescription) * per_set
    return total


def rep_range(prescription: str) -> tuple[int, int]:
    match = re.match(r"^\d+ x (\d+)(?:-(\d+))?(?: each \w+)?$", prescription)
    assert match, prescription
    low = int(match.group(1))
    return low, int(match.group(2) or low)


# -- one table row per kind and load -----------------------------------------------------------
TABLE = [
    # kind, load, title, first three moves, muscle groups (no upper add-on), effort fragments
    (
        HEAVY,
        "heavy",
        "Strength: heavy lower body",
        ["Back squat", "Romanian deadlift", "Copenhagen plank"],
        ("lower", "core"),
        ["RPE 8", "2 reps in reserve", "rest"],
    ),
    (
        HEAVY,
        "moderate",
        "Strength: lower body, moderate load",
        ["Back squat", "Romanian deadlift", "Copenhagen plank"],
        ("lower", "core"),
        ["RPE 7", "3 reps in reserve", "rest"],
    ),
    (
        LIGHT,
        "light",
        "Strength: light lower body",
        ["Goblet squat", "Single-leg glute bridge", "Side plank"],
        ("lower", "core"),
        ["RPE 5-6", "rest"],
    ),
    (
        UPPER,
        None,
        "Strength: upper body and core",
        ["One-arm dumbbell row", "Dumbbell bench press", "Pallof press"],
        ("upper", "core"),
        ["RPE 7", "reps in reserve", "rest"],
    ),
    (
        CORE,
        None,
        "Strength: core and hips",
        ["Front plank", "Side plank", "Bird dog"],
        ("core",),
        ["RPE 5-6"],
    ),
    (
        BODYWEIGHT,
        None,
        "Strength: bodyweight, no equipment",
        ["Air squat", "Push-up", "Front plank"],
        ("lower", "upper", "core"),
        ["RPE 5-6", "rest"],
    ),
]


@pytest.mark.parametrize("row", TABLE, ids=lambda row: f"{row[0].value}-{row[1]}")
@pytest.mark.parametrize("minutes", [20, 30, 45, 60])
def test_each_kind_reads_like_a_session(
    row: tuple[SessionKind, str | None, str, list[str], tuple[str, ...], list[str]], minutes: int
) -> None:
    kind, load, title, first, groups, effort = row
    content = CAT.content(kind, load, minutes, with_upper=False)
    assert content.title == title == CAT.title(kind, load)
    assert names(content)[:3] == first
    assert content.muscle_groups == groups
    for fragment in effort:
        assert fragment in content.effort
    for exercise in content.exercises:
        assert PRESCRIPTION.match(exercise.prescription), exercise
    assert content.warmup.startswith("5 min: ")
    assert "\n" not in content.warmup
    assert content.alternative.startswith("No ")
    assert content.alternative.endswith(".")
    assert content.alternative.count(". ") == 0  # one sentence
    assert re.search(r"squat|push-up|plank|row|bridge|band|lunge|raise|bird dog", content.alternative)
    assert floor_minutes(content, load) <= minutes
    assert CAT.estimate(kind, load, minutes, with_upper=False) <= minutes


def test_rest_day_has_no_exercises() -> None:
    content = CAT.content(REST, None, 0, with_upper=False)
    assert content.title == "Rest day"
    assert content.exercises == ()
    assert content.muscle_groups == ()
    assert CAT.max_minutes(REST) == 0


# -- minutes drive the content -----------------------------------------------------------------
@given(
    case=st.sampled_from(STRENGTH),
    with_upper=st.booleans(),
    short=st.integers(15, 90),
    extra=st.integers(0, 75),
)
def test_shorter_session_is_a_cut_of_a_longer_one(
    case: tuple[SessionKind, str | None], with_upper: bool, short: int, extra: int
) -> None:
    kind, load = case
    long = min(90, short + extra)
    small = CAT.content(kind, load, short, with_upper=with_upper)
    big = CAT.content(kind, load, long, with_upper=with_upper)
    assert small.exercises, "a strength session always has exercises"
    assert names(big)[: len(small.exercises)] == names(small)
    big_sets = {e.name: sets_of(e.prescription) for e in big.exercises}
    for exercise in small.exercises:
        assert sets_of(exercise.prescription) <= big_sets[exercise.name]
    for minutes, content in ((short, small), (long, big)):
        assert CAT.estimate(kind, load, minutes, with_upper=with_upper) <= minutes
        assert floor_minutes(content, load) <= minutes
        if minutes >= CAT.min_minutes(kind, load, with_upper=with_upper):
            assert len(content.exercises) >= 3
            expected = {
                "heavy": ("lower", "core"),
                "moderate": ("lower", "core"),
                "light": ("lower", "core"),
            }.get(load or "", DEFAULT_CATALOGUE[kind.value].muscle_groups)
            if with_upper and kind.is_lower:
                expected = ("lower", "upper", "core")
            assert content.muscle_groups == expected
            if kind.is_lower:
                assert STABILITY_NAMES & set(names(content))


@pytest.mark.parametrize(("kind", "load"), STRENGTH)
@pytest.mark.parametrize("with_upper", [False, True])
def test_twenty_minutes_keeps_the_shape(kind: SessionKind, load: str | None, with_upper: bool) -> None:
    assert CAT.min_minutes(kind, load, with_upper=with_upper) <= 20
    content = CAT.content(kind, load, 20, with_upper=with_upper)
    assert len(content.exercises) >= 3
    assert all(sets_of(e.prescription) >= 2 for e in content.exercises)


@pytest.mark.parametrize(
    ("kind", "load"), [(HEAVY, "heavy"), (HEAVY, "moderate"), (LIGHT, "light"), (UPPER, None)]
)
@pytest.mark.parametrize("with_upper", [False, True])
def test_thirty_minutes_is_clearly_less_than_the_full_session(
    kind: SessionKind, load: str | None, with_upper: bool
) -> None:
    def total_sets(minutes: int) -> int:
        content = CAT.content(kind, load, minutes, with_upper=with_upper)
        return sum(sets_of(e.prescription) for e in content.exercises)

    assert CAT.max_minutes(kind, load) >= 35
    longest = CAT.estimate(kind, load, 240, with_upper=with_upper)
    assert total_sets(20) < total_sets(240)
    if longest > 35:
        assert total_sets(30) < total_sets(240)
        assert total_sets(20) < total_sets(30)


@pytest.mark.parametrize(("kind", "load"), STRENGTH)
def test_max_minutes_holds_the_whole_session(kind: SessionKind, load: str | None) -> None:
    cap = CAT.max_minutes(kind, load)
    assert cap % 5 == 0
    assert CAT.content(kind, load, cap, with_upper=True) == CAT.content(kind, load, 240, with_upper=True)
    assert CAT.content(kind, load, cap - 5, with_upper=True) != CAT.content(kind, load, 240, with_upper=True)


def test_very_short_sessions_still_have_one_exercise() -> None:
    for kind, load in STRENGTH:
        for minutes in (0, 5, 10):
            assert CAT.content(kind, load, minutes, with_upper=True).exercises


# -- load --------------------------------------------------------------------------------------
def test_heavy_and_moderate_share_the_lift_names() -> None:
    heavy = CAT.content(HEAVY, "heavy", 90, with_upper=True)
    moderate = CAT.content(HEAVY, "moderate", 90, with_upper=True)
    assert names(heavy) == names(moderate)
    assert names(heavy)[:2] == ["Back squat", "Romanian deadlift"]
    assert heavy.effort != moderate.effort
    for h, m in zip(heavy.exercises[:2], moderate.exercises[:2], strict=True):
        assert h.prescription != m.prescription
        assert 3 <= rep_range(h.prescription)[0] <= rep_range(h.prescription)[1] <= 6
        assert 6 <= rep_range(m.prescription)[0] <= rep_range(m.prescription)[1] <= 10


def test_light_reps_are_high() -> None:
    content = CAT.content(LIGHT, "light", 90, with_upper=False)
    counted = [e for e in content.exercises if not re.search(r" s |steps| s$", e.prescription)]
    assert len(counted) >= 3
    for exercise in counted:
        low, high = rep_range(exercise.prescription)
        assert 12 <= low <= high <= 15, exercise


def test_heavy_kind_at_light_load_is_light_lower_body() -> None:
    assert CAT.content(HEAVY, "light", 40, with_upper=True) == CAT.content(LIGHT, None, 40, with_upper=True)
    assert CAT.content(HEAVY, None, 40, with_upper=False) == CAT.content(HEAVY, "heavy", 40, with_upper=False)
    assert CAT.max_minutes(HEAVY, "moderate") < CAT.max_minutes(HEAVY, "heavy")


def test_unknown_load_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown load"):
        CAT.content(HEAVY, "brutal", 40, with_upper=False)


def test_effort_cues_differ_by_load() -> None:
    cues = {
        load or kind.value: CAT.content(kind, load, 45, with_upper=False).effort for kind, load in STRENGTH
    }
    assert "RPE 8" in cues["heavy"]
    assert "RPE 7" in cues["moderate"]
    for easy in ("light", "core", "bodyweight"):
        assert "RPE 5-6" in cues[easy]
    assert len(set(cues.values())) >= 4


# -- R2: upper body with a lower-body session ------------------------------------------------
@pytest.mark.parametrize(("kind", "load"), LOWER)
@pytest.mark.parametrize("minutes", [20, 30, 45, 60, 90])
def test_with_upper_adds_upper_body(kind: SessionKind, load: str, minutes: int) -> None:
    plain = CAT.content(kind, load, minutes, with_upper=False)
    both = CAT.content(kind, load, minutes, with_upper=True)
    assert plain.muscle_groups == ("lower", "core")
    assert both.muscle_groups == ("lower", "upper", "core")
    added = [n for n in names(both) if n in UPPER_NAMES]
    assert 1 <= len(added) <= 2
    assert not UPPER_NAMES & set(names(plain))
    lower_part = [n for n in names(both) if n not in UPPER_NAMES]
    full_plain = names(CAT.content(kind, load, 240, with_upper=False))
    assert full_plain[: len(lower_part)] == lower_part
    assert "pull-apart" in both.warmup or "arm circles" in both.warmup
    assert "push-up" in both.alternative or "row" in both.alternative


@pytest.mark.parametrize("kind", [UPPER, CORE, BODYWEIGHT])
def test_with_upper_leaves_other_kinds_alone(kind: SessionKind) -> None:
    assert CAT.content(kind, None, 30, with_upper=True) == CAT.content(kind, None, 30, with_upper=False)
    assert CAT.content(CORE, None, 30, with_upper=True).muscle_groups == ("core",)


# -- user overrides ----------------------------------------------------------------------------
def _entry(**kwargs: object) -> CatalogueEntry:
    return schema.load(CatalogueEntry, kwargs)


def test_override_title_and_cap() -> None:
    cat = Catalogue({"core": _entry(title="Core with Sam", max_minutes=25), "rest": _entry(title="Day off")})
    assert cat.title(CORE) == "Core with Sam"
    assert cat.content(CORE, None, 25, with_upper=False).title == "Core with Sam"
    assert cat.max_minutes(CORE) == 25
    assert cat.content(REST, None, 0, with_upper=False).title == "Day off"
    assert cat.recipe(REST).title == "Day off"
    # the rest is untouched
    assert cat.content(HEAVY, "heavy", 45, with_upper=True) == CAT.content(
        HEAVY, "heavy", 45, with_upper=True
    )
    assert names(cat.content(CORE, None, 25, with_upper=False)) == names(
        CAT.content(CORE, None, 25, with_upper=False)
    )


USER_LEGS = [
    {"name": "Trap-bar deadlift", "prescription": "5 x 3"},
    {"name": "Step-up", "prescription": "3 x 8 each leg"},
    {"name": "Hill bounds", "prescription": "as many as feel good"},
    {"name": "Plank", "prescription": "3x 30 s"},
]


def test_override_exercises_replace_the_list_and_still_fit() -> None:
    cat = Catalogue({"heavy_lower": _entry(exercises=USER_LEGS)})
    full = cat.content(HEAVY, "heavy", 90, with_upper=False)
    assert [(e.name, e.prescription) for e in full.exercises] == [
        ("Trap-bar deadlift", "5 x 3"),
        ("Step-up", "3 x 8 each leg"),
        ("Hill bounds", "as many as feel good"),
        ("Plank", "3x 30 s"),
    ]
    previous: list[str] | None = None
    for minutes in range(90, 14, -5):
        content = cat.content(HEAVY, "heavy", minutes, with_upper=False)
        assert content.exercises
        assert cat.estimate(HEAVY, "heavy", minutes, with_upper=False) <= minutes
        if previous is not None:
            assert previous[: len(content.exercises)] == names(content)
        previous = names(content)
    short = cat.content(HEAVY, "heavy", 20, with_upper=False)
    assert short.exercises[0] == Exercise("Trap-bar deadlift", "2 x 3")
    assert len(short.exercises) < len(full.exercises)
    # moderate keeps the built-in list
    assert names(cat.content(HEAVY, "moderate", 45, with_upper=False))[0] == "Back squat"
    # the upper-body moves of R2 still join a user's lower-body list
    both = cat.content(HEAVY, "heavy", 90, with_upper=True)
    assert both.muscle_groups == ("lower", "upper", "core")
    assert UPPER_NAMES & set(names(both))
    assert both.alternative.startswith("No gym")


def test_empty_override_list_keeps_the_defaults() -> None:
    cat = Catalogue({"light_lower": _entry(exercises=[])})
    assert cat.content(LIGHT, None, 30, with_upper=True) == CAT.content(LIGHT, None, 30, with_upper=True)


def test_override_cap_from_user_list() -> None:
    cat = Catalogue({"upper": _entry(exercises=[{"name": "Pull-up", "prescription": "10 x 3"}])})
    assert names(cat.content(UPPER, None, 60, with_upper=False)) == ["Pull-up"]
    assert cat.content(UPPER, None, 60, with_upper=False).exercises[0].prescription == "10 x 3"
    assert cat.max_minutes(UPPER) == 20  # 5 + 10 sets of 1.5 min
    assert cat.content(UPPER, None, 10, with_upper=False).exercises[0].prescription == "3 x 3"


# -- the older API and determinism -------------------------------------------------------------
def test_recipe_api_still_answers() -> None:
    assert CAT.recipe(REST).title == "Rest day"
    assert CAT.recipe(HEAVY, "moderate").max_minutes == CAT.max_minutes(HEAVY, "moderate")
    assert CAT.recipe(HEAVY).title == "Strength: heavy lower body"
    assert set(DEFAULT_CATALOGUE) == {
        "heavy_lower",
        "moderate_lower",
        "light_lower",
        "upper",
        "core",
        "bodyweight",
        "rest",
    }
    assert [e.name for e in DEFAULT_CATALOGUE["heavy_lower"].exercises] == names(
        CAT.content(HEAVY, "heavy", 240, with_upper=False)
    )


def test_content_is_deterministic() -> None:
    other = Catalogue()
    for kind, load in STRENGTH:
        for minutes in (20, 35, 50):
            assert other.content(kind, load, minutes, with_upper=True) == CAT.content(
                kind, load, minutes, with_upper=True
            )
