"""livepipe.templating: the checks a template gets before a stream, the sandbox, the filters."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta, timezone

import pytest

from livepipe import views
from livepipe.events import make_event
from livepipe.templating import (
    EVENT_NAMES,
    EventTemplate,
    TemplateError,
    compile_template,
    event_values,
    num,
    short,
    strftime,
    timeofday,
    yuan,
)

#: event property -> the view class it gives (every typed view an event has)
VIEWS = {
    name: prop.fget.__annotations__["return"].split(".")[-1]
    for name, prop in vars(type(make_event("x"))).items()
    if isinstance(prop, property) and str(prop.fget.__annotations__.get("return", "")).startswith("views.")
}


def _view_fields() -> list[tuple[str, str]]:
    out = []
    for prop, cls_name in VIEWS.items():
        cls = getattr(views, cls_name)
        out += [(prop, f.name) for f in dataclasses.fields(cls)]
    return out


@pytest.mark.parametrize(("view", "attr"), _view_fields())
def test_every_field_of_every_view_is_accepted_and_a_misspelling_refused(view: str, attr: str) -> None:
    compile_template(f"{{{{ event.{view}.{attr} }}}}", EVENT_NAMES)
    wrong = attr[:-1] + ("x" if attr[-1] != "x" else "y")
    with pytest.raises(TemplateError) as e:
        compile_template(f"first line\n{{{{ event.{view}.{wrong} }}}}", EVENT_NAMES)
    assert e.value.lineno == 2
    assert f"unknown field 'event.{view}.{wrong}'" in str(e.value)
    assert str(e.value).startswith("template line 2: ")


def test_nested_fields_are_checked_through_optional_types() -> None:
    compile_template("{{ event.danmaku.medal.level }}", EVENT_NAMES)
    with pytest.raises(TemplateError, match=r"did you mean 'level'\?"):
        compile_template("{{ event.danmaku.medal.levle }}", EVENT_NAMES)


@pytest.mark.parametrize(("source", "line", "words"), [
    ("{{ unmae }}", 1, "unknown name 'unmae' (did you mean 'uname'?)"),
    ("a\nb\n{% if %}x{% endif %}", 3, "Expected an expression"),
    ("{{ uname|shrot }}", 1, "No filter named 'shrot'"),
    ("ok\n{{ uname ", 2, "unexpected end of template"),
    ("{% for x in data %}{{ x }}{% endfor %}{{ x.y }}\n{{ evnt }}", 2, "unknown name 'evnt'"),
    ("{{ event.__class__ }}", 1, "unknown field 'event.__class__'"),
])
def test_a_wrong_template_is_refused_with_its_line(source: str, line: int, words: str) -> None:
    with pytest.raises(TemplateError) as e:
        compile_template(source, EVENT_NAMES)
    assert e.value.lineno == line
    assert words in str(e.value)


def test_names_made_inside_the_template_and_untyped_values_are_not_checked() -> None:
    compile_template("{% set n = 3 %}{{ n }}{% for k, v in data.items() %}{{ k }}{{ v.anything }}{% endfor %}"
                     "{{ data.any.depth }}{{ range(3)|list }}", EVENT_NAMES)


def test_rendering_an_event_and_its_view() -> None:
    ev = make_event("gift", uid=7, uname="小明同学的长名字", room_id=1001,
                    data={"gift_name": "小心心", "num": 20, "price": 0, "coin_type": "silver"})
    t = compile_template("{{ uname|short(4) }} 赠送的 {{ event.gift.name }} x{{ event.gift.num }} in {{ room_id }}",
                         EVENT_NAMES)
    now = datetime(2026, 12, 7, 21, 30, tzinfo=timezone.utc)
    assert t.render(event_values(ev, now)) == f"小明同学… 赠送的 {ev.gift.name} x20 in 1001"


def test_a_missing_value_fails_the_render_instead_of_rendering_empty() -> None:
    t = compile_template("x\n{{ data.combo_id }}", EVENT_NAMES)
    with pytest.raises(TemplateError) as e:
        t.render(event_values(make_event("gift", data={})))
    assert e.value.lineno == 2 and "combo_id" in str(e.value) and "default" in str(e.value)
    assert compile_template("{{ data.combo_id|default(0) }}", EVENT_NAMES).render(
        event_values(make_event("gift", data={}))) == "0"


def test_a_view_of_another_kind_fails_the_render() -> None:
    t = compile_template("{{ event.gift.name }}", EVENT_NAMES)
    with pytest.raises(TemplateError):
        t.render(event_values(make_event("danmaku", text="hi")))


def test_an_exception_inside_the_template_names_its_line() -> None:
    t = compile_template("a\nb\n{{ 1 / 0 }}", EVENT_NAMES)
    with pytest.raises(TemplateError) as e:
        t.render(event_values(make_event("danmaku")))
    assert e.value.lineno == 3 and "ZeroDivisionError" in str(e.value)


@pytest.mark.parametrize("source", [
    "{{ ''.__class__.__mro__ }}",
    "{{ text.__class__ }}",
    "{% set xs = [1] %}{{ xs.append(2) }}",
    "{% set d = {} %}{{ d.update(a=1) }}",
    "{{ data.clear() }}",
    "{{ event.gift.of.__func__.__globals__ }}",
])
def test_the_sandbox_refuses_escapes_and_mutation(source: str) -> None:
    ev = make_event("gift", text="x", data={"a": 1})
    try:
        t = compile_template(source, EVENT_NAMES)
    except TemplateError:
        return  # refused before it could run: as good
    with pytest.raises(TemplateError):
        t.render(event_values(ev))
    assert ev.data == {"a": 1}


@pytest.mark.parametrize("source, words", [
    ("{% for i in range(10**9) %}x{% endfor %}", "at most 100000"),
    ("{% for i in range(60000) %}{% for j in range(60000) %}{% endfor %}{% endfor %}", "loop inside a loop"),
    ("{% for i in range(300) %}{% for j in range(300) %}{% for k in range(300) %}{% endfor %}{% endfor %}"
     "{% endfor %}", "loop inside a loop"),
    ("{% for c in 'x' * 60000 %}{% for d in 'y' * 60000 %}{% endfor %}{% endfor %}", "loop inside a loop"),
    ("{{ 'x' * 10**8 }}", "at most 100000"),
    ("{{ [1] * 10**8 }}", "at most 100000"),
    ("{{ 10 ** (10 ** 7) }}", "4096 bits"),
    ("{% for i in range(40000) %}xy{% endfor %}", "longer than 65536 characters"),
], ids=["range", "nested2", "nested3", "nested-strings", "repeat-str", "repeat-list", "power", "output"])
def test_a_runaway_template_fails_its_render_quickly(source: str, words: str) -> None:
    """Bounded: output length, range()/repetition items per render, size of a power (a render never stalls)."""
    t = compile_template(source, EVENT_NAMES)
    with pytest.raises(TemplateError) as e:
        t.render(event_values(make_event("danmaku")))
    assert words in str(e.value)


def test_the_bounds_leave_ordinary_templates_alone() -> None:
    t = compile_template("{% for i in range(3) %}{{ i }}{% endfor %}{{ 'ab' * 3 }}{{ 2 ** 10 }}{{ 3 * 4 }}"
                         "{{ [0] * 2 }}{{ 2 ** 0.5 > 1 }}", {})
    assert t.render({}) == "012ababab102412[0, 0]True"
    # the budget is per render: the same template renders again and again
    many = compile_template("{% for i in range(60000) %}{% endfor %}ok", {})
    assert [many.render({}) for _ in range(3)] == ["ok"] * 3
    # lipsum (placeholder text, unbounded) is not offered
    with pytest.raises(TemplateError, match="unknown name 'lipsum'"):
        compile_template("{{ lipsum(10**6) }}", {})


def test_filters() -> None:
    assert short("小明", 4) == "小明" and short("abcdefghij") == "abcdefgh…" and short(None) == ""
    assert short("abcdef", 3, end="..") == "abc.."
    assert [num(x) for x in (0, 9999, 10000, 12345, 1200000, 340000000, 2.5)] == \
        ["0", "9999", "1万", "1.2万", "120万", "3.4亿", "2.5"]
    assert [yuan(x) for x in (30, 0.5, 1.25, 1000)] == ["¥30", "¥0.5", "¥1.25", "¥1000"]
    day = datetime(2026, 12, 7, tzinfo=timezone(timedelta(hours=8)))
    assert [timeofday(day.replace(hour=h)) for h in (2, 6, 9, 12, 15, 20)] == \
        ["凌晨", "早上", "上午", "中午", "下午", "晚上"]
    assert strftime(day.replace(hour=20, minute=5), "%H:%M") == "20:05"
    assert strftime(0) == "1970-01-01 00:00"


def test_event_template_is_a_config_type_checked_at_validation() -> None:
    from pydantic import TypeAdapter, ValidationError

    adapter = TypeAdapter(EventTemplate)
    assert adapter.validate_python("{{ uname }}") == "{{ uname }}"
    with pytest.raises(ValidationError, match="unknown name 'unmae'"):
        adapter.validate_python("{{ unmae }}")


def test_the_file_line_of_a_line_inside_a_multi_line_template() -> None:
    from livepipe.config.locator import Locator

    text = 'a = 1\nbody = """\nfirst\n{{ bad }}\n"""\ninline = """one\n{{ two }}"""\nplain = "{{ x }}"\n'
    loc = Locator(text)
    assert loc.line_within_value(2, 2) == 4  # the template starts on the line after the opening quotes
    assert loc.line_within_value(6, 2) == 7  # it starts on the key's line
    assert loc.line_within_value(8, 1) == 8
    assert loc.line_within_value(99, 3) == 99
