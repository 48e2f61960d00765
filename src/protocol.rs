//! The pure Socket.IO 0.9 codec: no tokio, no sockets, no actors (HIVE.md section 3).
