#pragma once
/// `ccbridge users ...`: the agent platform's users (add, list, disable, enable, set-permissions).
int run_users(int argc, char **argv);
