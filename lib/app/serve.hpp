#pragma once
/// `ccbridge serve ...`: runs the gateway server until SIGINT or SIGTERM.
int run_serve(int argc, char **argv);
