"""How notifications reach Tootbell: Qt-free delivery cores."""
