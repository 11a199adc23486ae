"""services/tmux.py, the pure parts: quoting, tmux's stored names, listing parsers."""
from __future__ import annotations

import shlex

import pytest
from hypothesis import given, strategies as st

from services import tmux as T

from ._builders import PROPS


# -- quote ------------------------------------------------------------------------------------

def tmux_unquote(text: str) -> list[str]:
    """Split a command line the way tmux's parser treats single quotes and backslashes, and fail
    on any character outside quotes that tmux would interpret (; # $ ~ { } space…)."""
    words, cur, i, in_word = [], [], 0, False
    while i < len(text):
        ch = text[i]
        if ch == "'":
            end = text.index("'", i + 1)          # inside single quotes everything is literal
            cur.append(text[i + 1:end])
            i, in_word = end + 1, True
        elif ch == "\\" and i + 1 < len(text):
            cur.append(text[i + 1])
            i, in_word = i + 2, True
        elif ch == " ":
            if in_word:
                words.append("".join(cur))
                cur, in_word = [], False
            i += 1
        else:
            raise AssertionError(f"unquoted {ch!r} in {text!r}")
    if in_word:
        words.append("".join(cur))
    return words


QUOTE_CASES = ["plain", "", "my session", "it's", "'", "''", "a'b'c", '"dq"', "$HOME", "${x}", "a;b",
               "kill-server ; x", "#{session_name}", "#x", "-lead", "--", "~user", "{}", "\\", "a\\'b",
               "日本語", "emoji 🎉", "%1", "=name", "tab\there", "multi\nline"]


@pytest.mark.parametrize("name", QUOTE_CASES)
def test_quote_round_trips_through_the_tmux_and_shell_rules(name):
    q = T.quote(name)
    assert tmux_unquote(q) == [name]
    assert shlex.split(q) == [name]


def test_quoted_arguments_stay_separate():
    names = ["a b", "c;d", "-t", "it's"]
    assert tmux_unquote(" ".join(T.quote(n) for n in names)) == names


@PROPS
@given(st.text(alphabet=st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",))))
def test_quote_round_trips_anything(name):
    q = T.quote(name)
    assert tmux_unquote(q) == [name]
    assert shlex.split(q) == [name]


def test_session_target_is_exact():
    assert T.session_target("work") == "=work"
    assert T.session_target("-x") == "=-x"


# -- stored_name / display_name ---------------------------------------------------------------

# Measured with tmux 3.3a: `new-session -d -s TYPED` then `list-sessions -F '#{session_name}'`.
TMUX_3_3A = [
    ("x$HOME a.b:c\\y", "x\\$HOME a_b_c\\\\y"),
    ("${x}", "\\${x}"),
    ("$_a", "\\$_a"),
    ("-lead", "-lead"),
    ("it's #1;x", "it's #1;x"),
    ("$1", "$1"),              # `$` before a digit is not escaped
    ("a$", "a$"),              # nor at the end
    ("a$$b", "a$\\$b"),        # only the `$` before a letter
    ("é$é", "é$é"),            # nor before a non-ASCII letter
]


@pytest.mark.parametrize("typed,stored", TMUX_3_3A)
def test_stored_name_is_what_tmux_stores(typed, stored):
    assert T.stored_name(typed) == stored


@pytest.mark.parametrize("typed,stored", [
    ("plain", "plain"), ("a.b", "a_b"), ("a:b", "a_b"), ("v1.2:3", "v1_2_3"), ("$HOME", "\\$HOME"),
    ("back\\slash", "back\\\\slash"), ("my session", "my session"), ("日本語", "日本語"),
])
def test_stored_name_examples(typed, stored):
    assert T.stored_name(typed) == stored


@pytest.mark.parametrize("stored,shown", [
    ("\\$HOME", "$HOME"), ("back\\\\slash", "back\\slash"), ("plain", "plain"), ("a_b", "a_b"),
    ("trailing\\", "trailing\\"), ("\\x", "\\x"), ("\\\\\\$", "\\$"), ("", ""),
])
def test_display_name_undoes_the_escapes(stored, shown):
    assert T.display_name(stored) == shown


@PROPS
@given(st.text())
def test_display_of_stored_is_the_typed_name_with_dots_and_colons_as_underscores(typed):
    assert T.display_name(T.stored_name(typed)) == typed.replace(":", "_").replace(".", "_")


@PROPS
@given(st.text(alphabet=st.characters(blacklist_characters="\\")))
def test_display_name_is_identity_without_backslashes(name):
    assert T.display_name(name) == name


@PROPS
@given(st.text())
def test_stored_name_has_no_dots_or_colons(typed):
    stored = T.stored_name(typed)
    assert "." not in stored and ":" not in stored


# -- listing parsers --------------------------------------------------------------------------

def pane_line(**over) -> str:
    values = {"session_id": "$1", "session_name": "main", "session_created": "1700000000",
              "session_path": "/home/u", "session_windows": "2", "window_id": "@3", "window_index": "1",
              "window_active": "1", "pane_id": "%5", "pane_pid": "4242", "pane_active": "0",
              "pane_current_command": "bash", "pane_title": "vm"}
    values.update(over)
    return T.SEP.join(values[f] for f in T.PANE_FIELDS)


def client_line(**over) -> str:
    values = {"client_tty": "/dev/pts/3", "client_pid": "999", "client_control_mode": "0",
              "client_activity": "1700000100", "session_id": "$1", "client_session": "main",
              "window_id": "@3", "pane_id": "%5"}
    values.update(over)
    return T.SEP.join(values[f] for f in T.CLIENT_FIELDS)


def test_formats_list_every_field_in_order():
    assert T.PANE_FORMAT.split(T.SEP) == ["#{%s}" % f for f in T.PANE_FIELDS]
    assert T.CLIENT_FORMAT.split(T.SEP) == ["#{%s}" % f for f in T.CLIENT_FIELDS]
    assert T.PANE_FIELDS[-1] == "pane_title"          # the one free-text field goes last


def test_parse_panes():
    (row,) = T.parse_panes([pane_line()])
    assert row == T.PaneRow("$1", "main", 1700000000, "/home/u", 2, "@3", 1, True, "%5", 4242, False,
                            "bash", "vm")


def test_pane_title_containing_the_separator_stays_whole():
    title = f"a{T.SEP}b{T.SEP}{T.SEP}c"
    (row,) = T.parse_panes([pane_line(pane_title=title)])
    assert row.title == title and row.pane_id == "%5" and row.current_command == "bash"


@pytest.mark.parametrize("line", ["", "garbage", T.SEP.join(["x"] * 5),
                                  T.SEP.join(pane_line().split(T.SEP)[:-1])])
def test_malformed_pane_lines_are_skipped(line):
    rows = T.parse_panes([pane_line(pane_id="%1"), line, pane_line(pane_id="%2")])
    assert [r.pane_id for r in rows] == ["%1", "%2"]


def test_pane_with_names_that_need_quoting():
    (row,) = T.parse_panes([pane_line(session_name="it's a $HOME;#x", session_path="/tmp/a b")])
    assert row.session_name == "it's a $HOME;#x" and row.session_path == "/tmp/a b"


def test_parse_clients():
    (row,) = T.parse_clients([client_line()])
    assert row == T.ClientRow("/dev/pts/3", 999, False, 1700000100, "$1", "main", "@3", "%5")
    (row,) = T.parse_clients([client_line(client_control_mode="1")])
    assert row.control is True


@pytest.mark.parametrize("line", ["", "x", T.SEP.join(["x"] * 7), T.SEP.join(["x"] * 9)])
def test_malformed_client_lines_are_skipped(line):
    rows = T.parse_clients([client_line(client_tty="/dev/pts/1"), line, client_line(client_tty="/dev/pts/2")])
    assert [r.tty for r in rows] == ["/dev/pts/1", "/dev/pts/2"]


free_text = st.text(alphabet=st.characters(blacklist_characters=T.SEP + "\n", blacklist_categories=("Cs",)))


@PROPS
@given(st.builds(T.PaneRow, free_text, free_text, st.integers(0, 2 ** 40), free_text, st.integers(0, 999),
                 free_text, st.integers(0, 999), st.booleans(), free_text, st.integers(0, 2 ** 22),
                 st.booleans(), free_text,
                 st.text(alphabet=st.characters(blacklist_characters="\n", blacklist_categories=("Cs",)))))
def test_parse_panes_reads_back_what_tmux_prints(row):
    line = T.SEP.join([row.session_id, row.session_name, str(row.session_created), row.session_path,
                       str(row.session_windows), row.window_id, str(row.window_index),
                       "1" if row.window_active else "0", row.pane_id, str(row.pane_pid),
                       "1" if row.pane_active else "0", row.current_command, row.title])
    assert T.parse_panes([line]) == [row]


@PROPS
@given(st.builds(T.ClientRow, free_text, st.integers(0, 2 ** 22), st.booleans(), st.integers(0, 2 ** 40),
                 free_text, free_text, free_text, free_text))
def test_parse_clients_reads_back_what_tmux_prints(row):
    line = T.SEP.join([row.tty, str(row.pid), "1" if row.control else "0", str(row.activity),
                       row.session_id, row.session_name, row.window_id, row.pane_id])
    assert T.parse_clients([line]) == [row]
