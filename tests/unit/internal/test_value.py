"""Value: equality, hash and repr from the declared fields."""

from dockyard._internal.value import Value


class Point(Value):
    __slots__ = ("x", "y")
    _fields = ("x", "y")

    def __init__(self, x: int, y: int) -> None:
        self.x = x
        self.y = y


class Other(Point):
    __slots__ = ()


def test_equal_values_are_equal_and_hash_alike() -> None:
    assert Point(1, 2) == Point(1, 2)
    assert hash(Point(1, 2)) == hash(Point(1, 2))
    assert Point(1, 2) != Point(2, 1)
    assert len({Point(1, 2), Point(1, 2), Point(3, 4)}) == 2


def test_a_subclass_is_never_equal_to_its_base() -> None:
    assert Point(1, 2) != Other(1, 2)


def test_repr_lists_the_fields_in_order() -> None:
    assert repr(Point(1, 2)) == "Point(x=1, y=2)"
