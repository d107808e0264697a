# The layers of the tree, top down (ARCHITECTURE.md). Each folder lists the folders its files
# may include besides its own; everything else is a backward or sideways include and fails the
# build (cmake/check_layers.cmake). Keep the links in CMakeLists.txt the same as this table.
set(ZREP_LAYER_FOLDERS
    agent agent/cli agent/daemon agent/ops agent/endpoint agent/roles agent/rpc agent/config
    agent/zfs agent/logic agent/fault sender receiver crypto proto common)

set(ZREP_BASE common)
set(ZREP_WIRE proto crypto ${ZREP_BASE})

set(ZREP_MAY_agent agent/cli)  # main.cc
set(ZREP_MAY_agent/cli agent/daemon agent/ops agent/endpoint agent/roles agent/rpc agent/config
    agent/zfs agent/logic ${ZREP_WIRE})
set(ZREP_MAY_agent/daemon agent/ops agent/endpoint agent/roles agent/rpc agent/config agent/zfs
    agent/logic agent/fault ${ZREP_WIRE})
# Replication and failover as this host starts them; they reach the peer through rpc only,
# never through the endpoint (what this host does *for* a peer).
set(ZREP_MAY_agent/ops agent/roles agent/rpc agent/config agent/zfs agent/logic agent/fault
    sender receiver ${ZREP_WIRE})
set(ZREP_MAY_agent/endpoint agent/roles agent/rpc agent/config agent/zfs agent/logic agent/fault
    receiver ${ZREP_WIRE})
set(ZREP_MAY_agent/roles agent/config agent/zfs agent/logic agent/fault proto ${ZREP_BASE})
set(ZREP_MAY_agent/rpc agent/config agent/logic ${ZREP_WIRE})
set(ZREP_MAY_agent/config agent/logic ${ZREP_BASE})
set(ZREP_MAY_agent/zfs agent/logic ${ZREP_BASE})
set(ZREP_MAY_agent/logic ${ZREP_BASE})
set(ZREP_MAY_agent/fault)
set(ZREP_MAY_sender ${ZREP_WIRE})
set(ZREP_MAY_receiver ${ZREP_WIRE})
set(ZREP_MAY_crypto ${ZREP_BASE})
set(ZREP_MAY_proto ${ZREP_BASE})
set(ZREP_MAY_common)
