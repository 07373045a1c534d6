/* SPDX-License-Identifier: MIT */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include "cli.h"

static void durations_parse_with_units(void **state)
{
	assert_int_equal(parse_duration_ms("5s"), 5000);
	assert_int_equal(parse_duration_ms("5"), 5000);
	assert_int_equal(parse_duration_ms("250ms"), 250);
	assert_int_equal(parse_duration_ms("1.5s"), 1500);
	assert_int_equal(parse_duration_ms("2m"), 120000);
	assert_int_equal(parse_duration_ms("1h"), 3600000);
	assert_int_equal(parse_duration_ms("5 s"), -1);
	assert_int_equal(parse_duration_ms("abc"), -1);
	assert_int_equal(parse_duration_ms("-1s"), -1);
	assert_int_equal(parse_duration_ms("3weeks"), -1);
}

static void integers_are_range_checked(void **state)
{
	long long v;

	assert_int_equal(parse_int("--vcpus", "2", 1, 16, &v), 0);
	assert_int_equal(v, 2);
	assert_int_equal(parse_int("--vcpus", "0", 1, 16, &v), -1);
	assert_int_equal(parse_int("--vcpus", "17", 1, 16, &v), -1);
	assert_int_equal(parse_int("--vcpus", "2x", 1, 16, &v), -1);
	assert_int_equal(parse_int("--vcpus", "", 1, 16, &v), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(durations_parse_with_units),
		cmocka_unit_test(integers_are_range_checked),
	};
	return cmocka_run_group_tests_name("cli", tests, NULL, NULL);
}
