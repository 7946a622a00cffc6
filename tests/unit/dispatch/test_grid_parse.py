import json
from pathlib import Path

import pytest
import shapely
from shapely.geometry import box

import dispatch
from dispatch.domain.grid import GridUnit, parse_grid

SAMPLE_GRID = Path(dispatch.__file__).parent / "sample_grid.geojson"


def square(x0: float, y0: float, side: float = 0.01) -> list[list[list[float]]]:
    return [[[x0, y0], [x0 + side, y0], [x0 + side, y0 + side], [x0, y0 + side], [x0, y0]]]


def feature(unit_id, x0, y0, *, side=0.01, post=None, officers=None, **props):
    return {
        "type": "Feature",
        "geometry": {"type": "Polygon", "coordinates": square(x0, y0, side)},
        "properties": {
            "unit_id": unit_id,
            "post": post or [x0 + side / 2, y0 + side / 2],
            "officers": officers or [f"{unit_id}-P{k}" for k in range(3)],
            **props,
        },
    }


def collection(*features):
    return {"type": "FeatureCollection", "features": list(features)}


def locs(problems):
    return [p.loc for p in problems]


def message_at(problems, loc):
    return next(p.message for p in problems if p.loc == loc)


def test_sample_grid_is_four_units_of_three_officers_without_errors_or_warnings():
    parsed = parse_grid(json.loads(SAMPLE_GRID.read_text(encoding="utf-8")))

    assert parsed.ok and parsed.errors == [] and parsed.warnings == []
    assert [u.unit_id for u in parsed.units] == ["G1", "G2", "G3", "G4"]
    assert all(len(u.officers) == 3 and u.capacity == 1 and u.status == "available" for u in parsed.units)
    assert all(u.name.endswith("责任区") for u in parsed.units)
    # 全覆盖、无缝隙: together the four zones tile the town's rectangle.
    town = shapely.union_all([u.zone for u in parsed.units])
    assert town.equals(box(118.93, 25.20, 119.00, 25.26))
    assert sum(u.zone.area for u in parsed.units) == pytest.approx(town.area)


def test_a_good_grid_gives_units_with_defaults():
    parsed = parse_grid(collection(
        feature("G1", 118.93, 25.20, name="枫亭镇区责任区"),
        feature("G2", 118.94, 25.20, officers=["P1", "P2", "P3", "P4", "P5", "P6"], status="busy"),
        feature("G3", 118.95, 25.20, capacity=3),
    ))

    assert parsed.ok, parsed.errors
    g1, g2, g3 = parsed.units
    assert (g1.name, g1.capacity, g1.status) == ("枫亭镇区责任区", 1, "available")
    assert g1.officers == ("G1-P0", "G1-P1", "G1-P2")
    assert (g2.name, g2.capacity, g2.status) == ("G2", 2, "busy")  # one alert per 3 officers
    assert g3.capacity == 3
    assert g1.post == pytest.approx((118.935, 25.205))
    assert g1.zone.bounds == pytest.approx((118.93, 25.20, 118.94, 25.21))


def test_capacity_defaults_to_one_per_three_officers_at_least_one():
    zone = box(0, 0, 1, 1)
    assert GridUnit("G1", "G1", zone, (0.5, 0.5), ("a", "b")).capacity == 1
    assert GridUnit("G1", "G1", zone, (0.5, 0.5), tuple("abcdefg")).capacity == 2
    assert GridUnit("G1", "G1", zone, (0.5, 0.5), ("a", "b", "c"), capacity=4).capacity == 4


@pytest.mark.parametrize(
    ("document", "loc", "words"),
    [
        ([], "", "FeatureCollection"),
        ({"type": "Feature", "features": [feature("G1", 0, 0)]}, "type", "FeatureCollection"),
        ({"type": "FeatureCollection"}, "features", "list"),
        ({"type": "FeatureCollection", "features": []}, "features", "at least one"),
    ],
)
def test_the_collection_itself_is_checked(document, loc, words):
    parsed = parse_grid(document)

    assert not parsed.ok
    assert words in message_at(parsed.errors, loc)


def test_every_error_is_reported_at_once_with_its_location():
    bowtie = {"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]}
    features = [
        {**feature("G0", 0, 0), "geometry": {"type": "Point", "coordinates": [0, 0]}},
        {**feature("G1", 1, 0), "geometry": {"type": "Polygon", "coordinates": [[[1, 0], [2, 0], [2, 1], [1, 1]]]}},
        {**feature("G2", 2, 0), "geometry": {"type": "Polygon", "coordinates": [[[2, 0], [3, 95], [3, 1], [2, 0]]]}},
        {**feature("G3", 3, 0), "geometry": bowtie},
        feature("G4", 4, 0, officers=["P40", "P41"]),
        feature("G4", 5, 0),
        feature("G6", 6, 0, officers=["P60", "G4-P1", "P62"]),
        feature("", 7, 0, post=[200, 0], capacity=0, status="asleep", name=""),
        feature("G8", 8, 0, side=1.0),
        feature("G9", 8.5, 0.5, side=1.0),
        {"type": "Feature", "geometry": {"type": "Polygon", "coordinates": square(10, 0)}},
        "not a feature",
    ]

    parsed = parse_grid(collection(*features))

    assert sorted(locs(parsed.errors)) == sorted([
        "features[0].geometry.type",
        "features[1].geometry.coordinates[0]",
        "features[2].geometry.coordinates[0][1]",
        "features[3].geometry",
        "features[4].properties.officers",
        "features[5].properties.unit_id",
        "features[6].properties.officers[1]",
        "features[7].properties.unit_id",
        "features[7].properties.name",
        "features[7].properties.post",
        "features[7].properties.capacity",
        "features[7].properties.status",
        "features[9].geometry",
        "features[10].properties",
        "features[11]",
    ])
    errors = parsed.errors
    assert "Point" in message_at(errors, "features[0].geometry.type")
    assert "not closed" in message_at(errors, "features[1].geometry.coordinates[0]")
    assert "latitude 95" in message_at(errors, "features[2].geometry.coordinates[0][1]")
    assert "Self-intersection" in message_at(errors, "features[3].geometry")
    assert "at least 3" in message_at(errors, "features[4].properties.officers")
    assert "duplicate unit_id 'G4' (also features[4])" in message_at(errors, "features[5].properties.unit_id")
    assert "G4-P1 is already in unit G4 (features[5])" in message_at(errors, "features[6].properties.officers[1]")
    assert "longitude 200" in message_at(errors, "features[7].properties.post")
    assert "overlaps unit G8 (features[8])" in message_at(errors, "features[9].geometry")
    # Features without errors of their own still parse; the caller refuses the grid as a whole.
    assert [u.unit_id for u in parsed.units] == ["G8"]


def test_ring_and_position_shapes_are_checked():
    parsed = parse_grid(collection(
        {**feature("G1", 0, 0), "geometry": {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [0, 0]]]}},
        {**feature("G2", 1, 0), "geometry": {"type": "Polygon", "coordinates": []}},
        {**feature("G3", 2, 0), "geometry": {"type": "Polygon",
                                              "coordinates": [[[2, 0], [3, "0"], [3, 1], [2, True], [2, 0]]]}},
        {**feature("G4", 3, 0), "geometry": {"type": "MultiPolygon", "coordinates": [square(3, 0), [[[4, 0]]]]}},
        {**feature("G5", 5, 0), "geometry": None},
    ))

    errors = parsed.errors
    assert "at least 4 positions" in message_at(errors, "features[0].geometry.coordinates[0]")
    assert "exterior ring" in message_at(errors, "features[1].geometry.coordinates")
    assert "and 1 more" in message_at(errors, "features[2].geometry.coordinates[0][1]")
    assert "at least 4 positions" in message_at(errors, "features[3].geometry.coordinates[1][0]")
    assert "Polygon or MultiPolygon" in message_at(errors, "features[4].geometry")
    assert parsed.units == []


def test_officers_must_be_three_distinct_ids():
    parsed = parse_grid(collection(
        feature("G1", 0, 0, officers=["P1", "P2", "P1"]),
        feature("G2", 1, 0, officers=["P4", " ", 7, "P5", "P6"]),
        feature("G3", 2, 0, officers="P7,P8,P9"),
    ))

    errors = parsed.errors
    assert "listed twice" in message_at(errors, "features[0].properties.officers[2]")
    assert "got 2" in message_at(errors, "features[0].properties.officers")
    assert locs(errors).count("features[1].properties.officers[1]") == 1
    assert "non-empty" in message_at(errors, "features[1].properties.officers[2]")
    assert "features[1].properties.officers" not in locs(errors)  # three good ids remain
    assert "list" in message_at(errors, "features[2].properties.officers")


def test_the_duty_desk_id_is_reserved():
    parsed = parse_grid(collection(feature("duty_desk", 0, 0)))

    assert "reserved" in message_at(parsed.errors, "features[0].properties.unit_id")


def test_unit_ids_with_spaces_or_control_characters_are_refused():
    parsed = parse_grid(collection(feature("G 1", 0, 0), feature("G\t2", 0.02, 0), feature("G\x013", 0.04, 0),
                                   feature("东-1#a", 0.06, 0)))

    assert [loc for loc in locs(parsed.errors) if loc.endswith("unit_id")] == [
        f"features[{i}].properties.unit_id" for i in range(4)]
    assert "spaces or control characters" in message_at(parsed.errors, "features[0].properties.unit_id")
    # every unit is reachable at /v1/units/<unit_id> as it is: '#' and other characters outside the alphabet are not
    assert "/v1/units/<unit_id> reaches it" in message_at(parsed.errors, "features[3].properties.unit_id")


def test_unit_ids_of_the_alphabet_and_bounded_names_and_officer_lists():
    ok = parse_grid(collection(feature("G1.a_b:c-2", 0, 0), feature("9", 0.02, 0)))
    assert ok.errors == [] and [u.unit_id for u in ok.units] == ["G1.a_b:c-2", "9"]
    long_name = feature("G1", 0, 0)
    long_name["properties"]["name"] = "网" * 61
    crowded = feature("G2", 0.02, 0)
    crowded["properties"]["officers"] = [f"P{k}" for k in range(61)]
    refused = parse_grid(collection(long_name, crowded))
    assert "at most 60 characters, got 61" in message_at(refused.errors, "features[0].properties.name")
    assert "at most 60" in message_at(refused.errors, "features[1].properties.officers")
    at_the_bound = feature("G3", 0, 0)
    at_the_bound["properties"]["name"] = "网" * 60
    assert parse_grid(collection(at_the_bound)).errors == []


def test_multipolygon_zones_are_accepted():
    zone = {"type": "MultiPolygon", "coordinates": [square(0, 0), square(0.02, 0)]}
    parsed = parse_grid(collection({**feature("G1", 0, 0), "geometry": zone}))

    assert parsed.ok, parsed.errors
    assert parsed.units[0].zone.geom_type == "MultiPolygon"


def test_neighbours_sharing_an_edge_or_a_sliver_are_not_overlaps():
    sliver = 1e-9  # a 0.1 mm strip along a 1.1 km edge: about 0.1 m²
    parsed = parse_grid(collection(feature("G1", 0, 0), feature("G2", 0.01 - sliver, 0), feature("G3", 0, 0.01)))

    assert parsed.ok, parsed.errors


def test_a_zone_inside_another_is_an_overlap():
    parsed = parse_grid(collection(feature("G1", 0, 0, side=0.1), feature("G2", 0.02, 0.02)))

    assert "overlaps unit G1" in message_at(parsed.errors, "features[1].geometry")


def test_posts_outside_their_zone_are_warnings():
    parsed = parse_grid(collection(
        feature("G1", 0, 0, post=[0.015, 0.005]),  # in G2's zone
        feature("G2", 0.01, 0),
        feature("G3", 0.02, 0, post=[1.0, 1.0]),  # in no zone
        feature("G4", 0.03, 0, post=[0.04, 0.005]),  # on its own edge: inside
    ))

    assert parsed.ok and len(parsed.units) == 4
    assert locs(parsed.warnings) == ["features[0].properties.post", "features[2].properties.post"]
    assert "zone of unit G2 (features[1])" in parsed.warnings[0].message
    assert "outside every zone" in parsed.warnings[1].message
