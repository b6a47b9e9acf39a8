int ipc_placeholder;
