#pragma once
/// `ccbridge agent ...`: runs terminal sessions for a cc-control control plane until SIGINT or SIGTERM.
int run_agent(int argc, char **argv);
