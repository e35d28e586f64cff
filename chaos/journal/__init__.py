"""What a run leaves on disk to be answered for: the undo journal (chaos.journal.store: its
records, writer and reader, fsync'd before a fault acts) and the audit trail
(chaos.journal.audit). Plain files and the standard library only: the faults below the engine
and the commands above it all read and write them."""
