package whatsapp

import (
	"context"
	"strings"

	"github.com/tier0/tier0/conversation"
)

// DownloadAttachment fetches and decrypts the file of a recent inbound
// attachment, for an agent who wants to see it. ref is the attachment's
// URL ("whatsapp-media:<chat>/<message id>"). Nothing is downloaded while
// normalising messages; the keys to do it later are kept in memory only,
// for recent messages on the connected replica. It returns the content
// and its media type. Errors: Invalid (not a WhatsApp media reference, or
// larger than Config.MaxMediaBytes), NotFound (not recent enough, or from
// another replica), Unavailable (not connected, download failed).
func (a *Adapter) DownloadAttachment(ctx context.Context, ref string) ([]byte, string, error) {
	if !strings.HasPrefix(ref, mediaScheme) || len(ref) > conversation.MaxKeyLen {
		return nil, "", conversation.Errorf(conversation.Invalid, "whatsapp: %q is not a WhatsApp media reference", ref)
	}
	md, ok := a.media.get(ref, a.cfg.Now())
	if !ok {
		return nil, "", conversation.Errorf(conversation.NotFound, "whatsapp: media %s is no longer available here", ref)
	}
	if md.size > a.cfg.MaxMediaBytes {
		return nil, "", conversation.Errorf(conversation.Invalid, "whatsapp: media %s is %d bytes; the limit is %d", ref, md.size, a.cfg.MaxMediaBytes)
	}
	if !a.cli.IsLoggedIn() {
		return nil, "", conversation.Errorf(conversation.Unavailable, "whatsapp is not connected")
	}
	data, err := a.cli.Download(ctx, md.msg)
	if err != nil {
		return nil, "", conversation.Errorf(conversation.Unavailable, "whatsapp: download %s: %w", ref, err)
	}
	if int64(len(data)) > a.cfg.MaxMediaBytes {
		return nil, "", conversation.Errorf(conversation.Invalid, "whatsapp: media %s is larger than %d bytes", ref, a.cfg.MaxMediaBytes)
	}
	return data, md.mime, nil
}
