"""examhall: exam-room LAN server for computer-based theory exams."""
