package telegram

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/tier0/tier0/conversation"
)

// OpenFile opens the Telegram file an attachment URL refers to
// ("tg-file:<file_id>", see FileRefPrefix): getFile resolves it and the
// content is streamed from Telegram. The download URL contains the bot
// token and is never exposed. Close the reader. Telegram serves files of
// bots up to 20 MB. Errors: Invalid for a reference that is not
// "tg-file:…", Invalid/NotFound for a file Telegram does not know (any
// more), Unavailable.
func (a *Adapter) OpenFile(ctx context.Context, ref string) (io.ReadCloser, error) {
	id, ok := strings.CutPrefix(ref, FileRefPrefix)
	if !ok || id == "" || len(id) > 512 {
		return nil, conversation.Errorf(conversation.Invalid, "telegram: %q is not a telegram file reference", clip(ref, 80))
	}
	f, err := a.api.GetFile(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("telegram getFile: %w", classify(err))
	}
	if f == nil || f.FilePath == "" {
		return nil, conversation.Errorf(conversation.NotFound, "telegram: file is not available for download")
	}
	return a.api.Download(ctx, f.FilePath)
}
