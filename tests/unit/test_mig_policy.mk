test_mig_policy_SRCS := migrate/policy.c kernel/string.c
