// `ccbridge permission-hook` (permission_hook.cpp).
#pragma once

/// The hook's whole run: always returns 0 (see permission_hook.cpp).
int run_permission_hook();
