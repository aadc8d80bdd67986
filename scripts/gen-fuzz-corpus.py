#!/usr/bin/env python3
"""Write the seed corpora of the libFuzzer targets into csrc/fuzz/corpus/<target>/.

Run again to regenerate (files are named by content hash, so nothing is
duplicated).  Seeds are small: valid calls and near misses of every rule of
docs/contract.md 3.2-3.8.  Standard library only.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import struct
import sys
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "csrc" / "fuzz" / "corpus"

IDS_BAD = ["", "a" * 33, "tab\there", "nul\u0001", "é", " ", "'; DROP TABLE account; --", "Robert'); --"]


def seed(target: str, data: bytes | str) -> None:
    if isinstance(data, str):
        data = data.encode("utf-8", "surrogatepass")
    d = OUT / target
    d.mkdir(parents=True, exist_ok=True)
    (d / hashlib.sha1(data).hexdigest()[:16]).write_bytes(data)


def j(v) -> str:
    return json.dumps(v, separators=(",", ":"))


COMMON_BAD = ["", "not json", "{", "[", "null", "1", "\"x\"", "[1,]", "{\"a\":1,\"a\":2}",
              "[\"\\u0000\"]", "[\"\xff\"]", "[" * 65 + "]" * 65, "{\"a\":" * 10 + "1" + "}" * 10]


def api_corpora() -> None:
    gp = "friendship_getprofilelist_param_identifier_array"
    for v in ([], ["a"], ["a", "b", "a"], ["fuzzer"], ["nobody"], [1], [None], IDS_BAD, ["a"] * 120):
        seed("get_profile", j({gp: v}))
    seed("get_profile", j({gp: ["a"], "friendship_getprofilelist_param_force_update": True}))
    seed("get_profile", j({gp: "a"}))
    seed("get_profile", "{}")
    items = {
        "user_profile_item_nick_name": ["Nick", "", "x" * 501, 5, "'; DROP TABLE account; --"],
        "user_profile_item_gender": [0, 1, 2, 3, -1, 1.5, "1", 4294967296, True],
        "user_profile_item_face_url": ["http://x/y.png"],
        "user_profile_item_self_signature": ["sig", None],
        "user_profile_item_add_permission": [0, 1, 3, 4],
        "user_profile_item_location": ["Paris"],
        "user_profile_item_language": [0, 4294967295, 4294967296, 1e300],
        "user_profile_item_birthday": [19700101, -1],
        "user_profile_item_level": [7],
        "user_profile_item_role": [9],
        "user_profile_item_message_settings": [0, 1, 2],
        "user_profile_item_admin_forbid_type": [0, 1, 2],
        "bogus": [1],
    }
    for k, vs in items.items():
        for v in vs:
            seed("modify_profile", j({k: v}))
    ck, cv = "user_profile_custom_string_info_key", "user_profile_custom_string_info_value"
    arr = "user_profile_item_custom_string_array"
    for entries in ([{ck: "Hobby", cv: "chess"}], [{ck: "Tag_Profile_Custom_City", cv: "Paris"}],
                    [{ck: "bad key", cv: "v"}], [{ck: "toolongkey", cv: "v"}], [{ck: "A", cv: ""}],
                    [{ck: "A"}], [{cv: "v"}], [1], [{ck: 1, cv: "v"}],
                    [{ck: "K" + chr(65 + i), cv: "v"} for i in range(21)],
                    [{ck: "A", cv: "1"}, {ck: "A", cv: "2"}]):
        seed("modify_profile", j({arr: entries}))
    seed("modify_profile", j({"user_profile_item_nick_name": "n", "user_profile_item_gender": 7}))
    seed("modify_profile", "{}")
    seed("modify_profile", "{\"user_profile_item_level\":18446744073709551616}")
    for v in (["a"], ["a", "b", "c", "fuzzer"], ["nobody"], [], [1], IDS_BAD, ["a"] * 600):
        seed("get_status", j(v))
        for t in ("subscribe_status", "unsubscribe_status", "subscribe_info", "unsubscribe_info"):
            seed(t, j(v))
    for t in ("subscribe_status", "subscribe_info"):
        seed(t, j(["fuzzer"]))
        seed(t, j([f"u{i}" for i in range(250)]))
    for v in ("away", "", "x" * 101, 5, None, "'; DROP TABLE account; --"):
        seed("set_status", j({"user_status_custom_status": v}))
    seed("set_status", j({"other": 1}))
    for t in ("get_profile", "modify_profile", "get_status", "set_status", "subscribe_status",
              "unsubscribe_status", "subscribe_info", "unsubscribe_info"):
        for b in COMMON_BAD:
            seed(t, b)


def admin_corpus() -> None:
    apis = ["v4/im_open_login_svc/account_import", "v4/im_open_login_svc/multiaccount_import",
            "v4/im_open_login_svc/account_delete", "v4/profile/portrait_get", "v4/profile/portrait_set",
            "v4/openim/query_online_status", "ref/set_user_status"]
    bodies = {
        0: [{"UserID": "n1"}, {"UserID": "n2", "Nick": "N", "FaceUrl": "u"}, {"UserID": ""}, {"UserID": 1},
            {"UserID": "n3", "Nick": 5}, {"UserID": "Robert'); --", "Nick": "'; DROP TABLE account; --"}],
        1: [{"Accounts": ["x1", "x2", "", "bad\tid"]}, {"Accounts": []}, {"Accounts": [1]}, {"Accounts": "x"}],
        2: [{"DeleteItem": [{"UserID": "x1"}]}, {"DeleteItem": [{"UserID": "nobody"}]}, {"DeleteItem": [1]},
            {"DeleteItem": []}],
        3: [{"To_Account": ["a", "nobody"], "TagList": ["Tag_Profile_IM_Nick", "Tag_Profile_Custom_Hobby"]},
            {"To_Account": ["a"], "TagList": ["Tag_Bogus"]}, {"To_Account": [], "TagList": ["Tag_Profile_IM_Nick"]},
            {"To_Account": ["a"], "TagList": [1]}],
        4: [{"From_Account": "a", "ProfileItem": [{"Tag": "Tag_Profile_IM_Nick", "Value": "A"}]},
            {"From_Account": "a", "ProfileItem": [{"Tag": "Tag_Profile_IM_Gender", "Value": "Gender_Type_Male"}]},
            {"From_Account": "a", "ProfileItem": [{"Tag": "Tag_Profile_IM_Gender", "Value": 9}]},
            {"From_Account": "a", "ProfileItem": [{"Tag": "Tag_Profile_Custom_Hobby", "Value": "x"}]},
            {"From_Account": "a", "ProfileItem": [{"Tag": "Tag_Profile_Custom_bad key", "Value": "x"}]},
            {"From_Account": "a", "ProfileItem": [{"Tag": "Tag_Profile_IM_Nick", "Value": "A"},
                                                  {"Tag": "Tag_Profile_IM_Level", "Value": -1}]},
            {"From_Account": "nobody", "ProfileItem": [{"Tag": "Tag_Profile_IM_Nick", "Value": "A"}]},
            {"From_Account": "a", "ProfileItem": []}],
        5: [{"To_Account": ["a", "fuzzer", "nobody"]}, {"To_Account": [1]}, {"To_Account": []}],
        6: [{"UserID": "a", "StatusType": 1, "CustomStatus": "hi"}, {"UserID": "a", "StatusType": 2},
            {"UserID": "a", "StatusType": 4}, {"UserID": "nobody", "StatusType": 3},
            {"UserID": "a", "StatusType": 1, "CustomStatus": "x" * 101}],
    }
    for i, bs in bodies.items():
        for b in bs:
            seed("admin", bytes([i]) + j(b).encode())
        seed("admin", bytes([i]) + b"not json")
        seed("admin", bytes([i]) + b"[]")
    seed("admin", b"\x07v4/unknown/api\n{}")
    seed("admin", b"\x07/v4/openim/query_online_status\n{\"To_Account\":[\"a\"]}")
    seed("admin", b"\x07\n{}")


def init_corpus() -> None:
    for cfg in ("", "{}", "null", "[]", "not json", j({"sdk_config_config_file_path": ""}),
                j({"sdk_config_config_file_path": "store"}), j({"sdk_config_config_file_path": 5}),
                j({"sdk_config_log_file_path": "log"}), j({"sdk_config_log_file_path": 1}),
                j({"timref_config_secret_key": "k"}), j({"timref_config_secret_key": 1}),
                j({"timref_config_device_name": "Phone"}), j({"timref_config_device_name": ""}),
                j({"timref_config_device_name": "a" * 40}),
                j({"timref_config_custom_profile_keys": ["Hobby", "Tag_Profile_Custom_City"]}),
                j({"timref_config_custom_profile_keys": ["bad key"]}),
                j({"timref_config_custom_profile_keys": "Hobby"}),
                j({"sdk_config_config_file_path": "d2", "timref_config_secret_key": "k",
                   "timref_config_device_name": "Linux"})):
        seed("init", cfg)


def gen_sig(appid: int, key: str, ident: str, t: int, expire: int, userbuf: str | None = None,
            sig_override: str | None = None, extra: dict | None = None) -> str:
    content = f"TLS.identifier:{ident}\nTLS.sdkappid:{appid}\nTLS.time:{t}\nTLS.expire:{expire}\n"
    if userbuf is not None:
        content += f"TLS.userbuf:{userbuf}\n"
    sig = base64.b64encode(hmac.new(key.encode(), content.encode(), hashlib.sha256).digest()).decode()
    obj = {"TLS.ver": "2.0", "TLS.identifier": ident, "TLS.sdkappid": appid, "TLS.time": t,
           "TLS.expire": expire}
    if userbuf is not None:
        obj["TLS.userbuf"] = userbuf
    obj["TLS.sig"] = sig_override or sig
    if extra:
        obj.update(extra)
    text = j(obj)
    return inner_to_sig(text.encode())


def inner_to_sig(inner: bytes) -> str:
    b = base64.b64encode(zlib.compress(inner)).decode()
    return b.replace("+", "*").replace("/", "-").replace("=", "_")


def usersig_corpus() -> None:
    key, app, now = "fuzz-secret-key", 1400000001, 1700000000
    raw = [gen_sig(app, key, "alice", now - 10, 86400), gen_sig(app, key, "alice", now - 100, 10),
           gen_sig(app, key, "bob", now, 86400), gen_sig(app + 1, key, "alice", now, 86400),
           gen_sig(app, "wrong", "alice", now, 86400), gen_sig(app, key, "alice", now, 86400, userbuf="ub"),
           gen_sig(app, key, "alice", now, 86400, sig_override="AAAA"), "", "*-_", "eJw_", "!!!!",
           inner_to_sig(b"{}"), inner_to_sig(b"[]"), inner_to_sig(b"not json"), inner_to_sig(b"x" * 9000)]
    for s in raw:
        seed("usersig", b"\x00" + s.encode())
    seed("usersig", b"\x00" + gen_sig(app, key, "alice", now, 86400).rstrip("_").encode())
    inner = [{"TLS.ver": "2.0", "TLS.identifier": "alice", "TLS.sdkappid": app, "TLS.time": now,
              "TLS.expire": 86400, "TLS.sig": "A" * 43 + "="},
             {"TLS.ver": "2.0", "TLS.identifier": "alice", "TLS.sdkappid": str(app), "TLS.time": "01",
              "TLS.expire": "-1", "TLS.sig": "x"},
             {"TLS.ver": "1.0"}, {"TLS.ver": "2.0", "TLS.identifier": 5},
             {"TLS.ver": "2.0", "TLS.identifier": "alice", "TLS.sdkappid": 1.5},
             {"TLS.ver": "2.0", "TLS.identifier": "alice", "TLS.sdkappid": 18446744073709551615}]
    for o in inner:
        seed("usersig", b"\x01" + j(o).encode())
    seed("usersig", b"\x01" + b"{\"TLS.ver\":\"2.0\",\"TLS.ver\":\"2.0\"}")
    seed("usersig", b"\x01" + b"[" * 3000 + b"]" * 3000)
    for ident, ub in (("alice", None), ("bob", "buf"), ("", None), ("x" * 100, "y" * 100), ("\u00e9", None)):
        b = b"\x02" + struct.pack(">QQQ", app << 1, now << 1, 86400 << 1) + ident.encode()
        if ub is not None:
            b += b"\x00" + ub.encode()
        seed("usersig", b)


def main() -> int:
    api_corpora()
    admin_corpus()
    init_corpus()
    usersig_corpus()
    for d in sorted(OUT.iterdir()):
        print(f"{d.name}: {len(list(d.iterdir()))} seeds")
    return 0


if __name__ == "__main__":
    sys.exit(main())
