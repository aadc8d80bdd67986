"""tim_py.remove_world (TIMRefRemoveWorld, docs/postgresql.md "Removing a world") on both
engines: the world removed (on PostgreSQL, the cluster's catalog holds neither its schema nor its
registry row; on SQLite, no file of it is left), refused while this process or another one has it
open, another app's world untouched, bad arguments refused, no password in any message.
"""
from __future__ import annotations

import os

import pytest

from tim_py import TIM, InvalidParameterError, remove_world

from .conftest import read_line, spawn

T = 10

HOLDER = """
import sys, tim_py
with tim_py.TIM(int(sys.argv[1]), sys.argv[2]) as t:
    t.login("holder", "sig").result(10)
    print("ready", flush=True)
    sys.stdin.readline()
"""


def exists(world, pg_cluster_or_none, app: int) -> bool:
    """Whether anything of app's world is in its store."""
    if world.engine == "sqlite":
        return any(n.startswith(f"timref-{app}.") for n in os.listdir(world.where))
    [n] = pg_cluster_or_none.sql(
        f"SELECT (SELECT count(*) FROM pg_namespace WHERE nspname = 'timref_{app}')"
        f" + (SELECT count(*) FROM timref.app WHERE app_id = {app})")
    return n != "0"


@pytest.fixture
def cluster(world, request):
    return request.getfixturevalue("pg_cluster") if world.engine == "postgresql" else None


def test_removed_and_refused_while_open(world, cluster, children):
    other = world.app_id + 1
    with TIM(other, world.where) as tim:  # another app of the same store
        tim.admin.import_account("carol").result(T)
    with TIM(world.app_id, world.where) as tim:
        tim.admin.import_account("bob").result(T)
        with pytest.raises(InvalidParameterError, match="has it open") as e:
            remove_world(world.app_id, world.where)
        assert "TIMUninit first" in (e.value.reason or "")
    assert exists(world, cluster, world.app_id)

    # a user logged in in another process: refused, until that process closes its client
    child = spawn(HOLDER, world.app_id, world.where, stdin=True)
    children.append(child)
    assert read_line(child) == "ready"
    with pytest.raises(InvalidParameterError, match="has it open"):
        remove_world(world.app_id, world.where)
    child.stdin.write("\n")
    child.stdin.flush()
    assert child.wait(T) == 0

    remove_world(world.app_id, world.where)
    assert not exists(world, cluster, world.app_id)
    assert exists(world, cluster, other)
    remove_world(world.app_id, world.where)  # nothing left: no error
    # the app's next client starts a new, empty world
    with TIM(world.app_id, world.where) as tim:
        assert tim.admin.world_export().result(T)["Accounts"] == []
    remove_world(world.app_id, world.where)
    remove_world(other, world.where)
    assert not exists(world, cluster, other)


def test_bad_arguments():
    with pytest.raises(TypeError, match="sdk_app_id"):
        remove_world("1", "/tmp")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="sdk_app_id"):
        remove_world(-1, "/tmp")
    with pytest.raises(TypeError, match="data_dir"):
        remove_world(1, None)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="bytes"):
        remove_world(1, b"/tmp")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="data_dir"):
        remove_world(1, "")
    with pytest.raises(ValueError, match="NUL"):
        remove_world(1, "/tmp/\x00x")


@pytest.mark.pg
def test_no_password_in_the_refusal(pg_cluster):
    user_part, rest = pg_cluster.url.split("@", 1)
    bad = user_part.rsplit(":", 1)[0] + ":Wr0ngPassw0rd@" + rest
    with pytest.raises(InvalidParameterError) as e:
        remove_world(1, bad)
    text = str(e.value) + (e.value.reason or "")
    assert "authentication failed" in text and "127.0.0.1" in text
    assert "Wr0ngPassw0rd" not in text and pg_cluster.password not in text
