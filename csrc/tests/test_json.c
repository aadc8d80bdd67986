/*
 * test_json.c - tr_json_parse (json.c): a call's JSON argument, read into the tree every job
 * uses.  The arguments of the common shape (an array of plain strings, or an object of one key
 * holding one) are read without jansson's parser; every text must still give exactly what the
 * parser gives: the same tree, or the same refusal.  Checked on hand-picked texts and on
 * thousands of mutations of plain ones, against jansson itself.
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "harness.h"
#include "tr_internal.h"

/* What the parser alone makes of text for a shape: the tree, or NULL (not JSON, or the wrong
 * shape; numbers are kept out of the texts below, so clamping never applies). */
static json_t* reference(const char* text, size_t len, int shape) {
    json_t* j = json_loadb(text, len, JSON_REJECT_DUPLICATES, NULL);
    if (j && ((shape == TR_JSON_OBJECT && !json_is_object(j)) || (shape == TR_JSON_ARRAY && !json_is_array(j)))) {
        json_decref(j);
        j = NULL;
    }
    return j;
}

static int compare(const char* text, size_t len, int shape) {
    json_t* want = reference(text, len, shape);
    json_t* got = NULL;
    int rc = tr_json_parse(text, len, shape, &got);
    int same = want ? (rc == TIM_SUCC && got && json_equal(want, got)) : (rc != TIM_SUCC && !got);
    if (!same) th_check(0, __FILE__, __LINE__, "tr_json_parse == jansson", "%d: %.*s", shape, (int)len, text);
    json_decref(want);
    json_decref(got);
    return same;
}

static void test_picked(void) {
    static const char* const objects[] = {
        "{\"friendship_getprofilelist_param_identifier_array\":[\"u0000001\"]}",
        "{\"k\":[]}", "{\"k\":[\"\"]}", "{\"\":[\"a\",\"b\",\"c\"]}", "{\"k\":[\"a b/c~!\"]}",
        "{\"k\":[\"a\\\"b\"]}", "{\"k\":[\"a\\\\b\"]}", "{\"k\":[\"\\u00e9\"]}", "{\"k\":[\"\xc3\xa9\"]}",
        "{\"k\":[\"\xff\"]}", "{\"k\":[\"a\x01\"]}", "{\"k\":[\"a\"] }", " {\"k\":[\"a\"]}", "{\"k\": [\"a\"]}",
        "{\"k\":[\"a\",]}", "{\"k\":[,\"a\"]}", "{\"k\":[\"a\"]", "{\"k\":[\"a\"]}}", "{\"k\":\"a\"}",
        "{\"k\":[\"a\"],\"k\":[\"b\"]}", "{\"k\":[\"a\"],\"l\":[]}", "{\"k\":[[\"a\"]]}", "{\"k\":[1]}",
        "{\"k\":[\"a\"\"b\"]}", "{k:[\"a\"]}", "[\"a\"]", "{}", "{\"k\":[\"a\x7f\"]}",
    };
    static const char* const arrays[] = {
        "[\"a\",\"b\"]", "[]", "[\"\"]", "[ \"a\"]", "[\"a\"] ", "[\"a\",]", "[\"a\\n\"]", "[\"a\"]]",
        "{\"k\":[\"a\"]}", "[\"a\",\"a\"]", "[\"\xe2\x82\xac\"]", "[null]", "[\"a\"", "\"a\"",
    };
    for (size_t i = 0; i < sizeof objects / sizeof *objects; i++) {
        CHECK(compare(objects[i], strlen(objects[i]), TR_JSON_OBJECT));
        CHECK(compare(objects[i], strlen(objects[i]), TR_JSON_ARRAY));
    }
    for (size_t i = 0; i < sizeof arrays / sizeof *arrays; i++) {
        CHECK(compare(arrays[i], strlen(arrays[i]), TR_JSON_ARRAY));
        CHECK(compare(arrays[i], strlen(arrays[i]), TR_JSON_OBJECT));
    }
}

/* Plain texts with one to three bytes replaced, inserted or removed (bytes that matter to JSON's
 * grammar, and some that are not ASCII), each compared for both shapes. */
static void test_mutations(void) {
    static const char bytes[] = "\"\\,[]{}: \t\nab\x01\x7f\x80\xc3\xa9\xff";
    static const char* const seeds[] = {
        "{\"friendship_getprofilelist_param_identifier_array\":[\"u0000001\",\"u0000002\"]}",
        "[\"alice\",\"bob\",\"\"]",
        "{\"k\":[]}",
    };
    unsigned seed = 12345;
    int n = 0, bad = 0;
    for (size_t si = 0; si < sizeof seeds / sizeof *seeds; si++) {
        size_t base = strlen(seeds[si]);
        for (int round = 0; round < 3000; round++) {
            char text[128];
            size_t len = base;
            memcpy(text, seeds[si], len);
            int edits = 1 + (int)((seed = seed * 1103515245u + 12345u) >> 16) % 3;
            for (int e = 0; e < edits && len > 0 && len < sizeof text - 1; e++) {
                seed = seed * 1103515245u + 12345u;
                size_t at = (seed >> 8) % len;
                char b = bytes[(seed >> 20) % (sizeof bytes - 1)];
                switch ((seed >> 4) % 3) {
                case 0: text[at] = b; break;
                case 1: memmove(text + at + 1, text + at, len - at); text[at] = b; len++; break;
                default: memmove(text + at, text + at + 1, len - at - 1); len--; break;
                }
            }
            bad += !compare(text, len, TR_JSON_OBJECT);
            bad += !compare(text, len, TR_JSON_ARRAY);
            n += 2;
        }
    }
    CHECK_INT(bad, 0);
    CHECK(n == 18000);
}

int main(void) {
    test_picked();
    test_mutations();
    return th_finish();
}
