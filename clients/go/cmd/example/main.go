// Command example calls a live Memoria server through the generated Go client
// and checks what it gets back: the seed conversation, window memory, a
// streamed history, an idempotent bulk import, and typed errors. It prints one
// line per check and exits 1 on the first failed one.
//
//	go run ./cmd/example -addr 127.0.0.1:50051
package main

import (
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	memoriav1 "github.com/memoria/memoria/clients/go/memoria/v1"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/structpb"
)

const (
	importCount = 5000
	importBatch = 500 // below the server's per-request limit (1000 by default)
)

func main() {
	addr := flag.String("addr", "127.0.0.1:50051", "host:port of the Memoria server")
	flag.Parse()
	if err := run(*addr, os.Getenv("MEMORIA_API_KEY")); err != nil {
		fmt.Fprintln(os.Stderr, "go example: FAILED:", err)
		os.Exit(1)
	}
}

func run(addr, apiKey string) error {
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return err
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if apiKey != "" {
		ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+apiKey)
	}
	memory := memoriav1.NewMemoryServiceClient(conn)
	sessions := memoriav1.NewSessionServiceClient(conn)
	sessionID := "go-example-" + newUUID()

	checks := []struct {
		name string
		run  func() (string, error)
	}{
		{"add the seed conversation", func() (string, error) { return addConversation(ctx, memory, sessionID) }},
		{"window memory", func() (string, error) { return windowMemory(ctx, memory, sessionID) }},
		{"stream the history", func() (string, error) { return streamHistory(ctx, memory, sessionID) }},
		{"import twice", func() (string, error) { return importTwice(ctx, memory, sessions, sessionID+"-import") }},
		{"INVALID_ARGUMENT detail", func() (string, error) { return badRequest(ctx, memory) }},
		{"NOT_FOUND", func() (string, error) { return notFound(ctx, memory, sessionID+"-missing") }},
	}
	for _, check := range checks {
		summary, err := check.run()
		if err != nil {
			return fmt.Errorf("%s: %w", check.name, err)
		}
		fmt.Printf("ok   %-26s %s\n", check.name, summary)
	}
	fmt.Printf("go example: all %d checks passed against %s\n", len(checks), addr)
	return nil
}

// conversation is the seed's three messages; the last one carries metadata.
func conversation() []*memoriav1.Message {
	foo, _ := structpb.NewStruct(map[string]any{"foo": "bar"})
	return []*memoriav1.Message{
		{Role: "Jane", RoleType: memoriav1.RoleType_ROLE_TYPE_USER, Content: "Who was Octavia Butler?"},
		{Role: "HistoryBot", RoleType: memoriav1.RoleType_ROLE_TYPE_ASSISTANT,
			Content: "Octavia Estelle Butler (June 22, 1947 – February 24, 2006) was an American science fiction author."},
		{Role: "Jane", RoleType: memoriav1.RoleType_ROLE_TYPE_USER,
			Content: "Which books of hers were made into movies?", Metadata: foo},
	}
}

func addConversation(ctx context.Context, memory memoriav1.MemoryServiceClient, sessionID string) (string, error) {
	resp, err := memory.AddMemory(ctx, &memoriav1.AddMemoryRequest{SessionId: sessionID, Messages: conversation()})
	if err != nil {
		return "", err
	}
	if len(resp.GetMessages()) != 3 {
		return "", fmt.Errorf("stored %d messages, want 3", len(resp.GetMessages()))
	}
	for _, m := range resp.GetMessages() {
		if m.GetUuid() == "" || m.GetCreatedAt() == nil {
			return "", fmt.Errorf("message %q came back without uuid or created_at", m.GetContent())
		}
	}
	return fmt.Sprintf("session %s, 3 messages stored", sessionID), nil
}

func windowMemory(ctx context.Context, memory memoriav1.MemoryServiceClient, sessionID string) (string, error) {
	resp, err := memory.GetMemory(ctx, &memoriav1.GetMemoryRequest{
		SessionId: sessionID, MemoryType: memoriav1.MemoryType_MEMORY_TYPE_MESSAGE_WINDOW,
	})
	if err != nil {
		return "", err
	}
	want := conversation()
	if len(resp.GetMessages()) != len(want) {
		return "", fmt.Errorf("got %d messages, want %d", len(resp.GetMessages()), len(want))
	}
	var sum int64
	for i, m := range resp.GetMessages() {
		if m.GetContent() != want[i].GetContent() || m.GetRole() != want[i].GetRole() {
			return "", fmt.Errorf("message %d is %s: %q, want %s: %q", i, m.GetRole(), m.GetContent(), want[i].GetRole(), want[i].GetContent())
		}
		if m.GetTokenCount() <= 0 {
			return "", fmt.Errorf("message %d has token_count %d", i, m.GetTokenCount())
		}
		sum += int64(m.GetTokenCount())
	}
	if foo := resp.GetMessages()[2].GetMetadata().GetFields()["foo"].GetStringValue(); foo != "bar" {
		return "", fmt.Errorf("metadata foo = %q, want \"bar\"", foo)
	}
	if resp.GetTokenCount() != sum {
		return "", fmt.Errorf("token_count %d, want the messages' sum %d", resp.GetTokenCount(), sum)
	}
	return fmt.Sprintf("3 messages in order, tokens %d+%d+%d = %d, metadata foo=bar",
		resp.GetMessages()[0].GetTokenCount(), resp.GetMessages()[1].GetTokenCount(),
		resp.GetMessages()[2].GetTokenCount(), resp.GetTokenCount()), nil
}

func streamHistory(ctx context.Context, memory memoriav1.MemoryServiceClient, sessionID string) (string, error) {
	stream, err := memory.StreamMessages(ctx, &memoriav1.StreamMessagesRequest{SessionId: sessionID, BatchSize: 2})
	if err != nil {
		return "", err
	}
	var got []*memoriav1.Message
	responses := 0
	for {
		resp, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return "", err
		}
		responses++
		got = append(got, resp.GetMessages()...)
	}
	want := conversation()
	if len(got) != len(want) {
		return "", fmt.Errorf("streamed %d messages, want %d", len(got), len(want))
	}
	for i, m := range got {
		if m.GetContent() != want[i].GetContent() {
			return "", fmt.Errorf("streamed message %d is %q, want %q", i, m.GetContent(), want[i].GetContent())
		}
		if i > 0 && m.GetSequence() <= got[i-1].GetSequence() {
			return "", fmt.Errorf("sequence %d after %d", m.GetSequence(), got[i-1].GetSequence())
		}
	}
	return fmt.Sprintf("3 messages in order over %d responses", responses), nil
}

func importTwice(ctx context.Context, memory memoriav1.MemoryServiceClient, sessions memoriav1.SessionServiceClient, sessionID string) (string, error) {
	history := make([]*memoriav1.ImportedMessage, importCount)
	for i := range history {
		role, roleType := "Jane", memoriav1.RoleType_ROLE_TYPE_USER
		if i%2 == 1 {
			role, roleType = "HistoryBot", memoriav1.RoleType_ROLE_TYPE_ASSISTANT
		}
		history[i] = &memoriav1.ImportedMessage{
			Uuid: newUUID(), Role: role, RoleType: roleType, Content: fmt.Sprintf("imported message %d", i),
		}
	}
	first, err := importHistory(ctx, memory, sessionID, history)
	if err != nil {
		return "", err
	}
	if first.GetReceived() != importCount || first.GetStored() != importCount || first.GetDuplicates() != 0 {
		return "", fmt.Errorf("first import: %v, want %d received and stored", first, importCount)
	}
	second, err := importHistory(ctx, memory, sessionID, history)
	if err != nil {
		return "", err
	}
	if second.GetReceived() != importCount || second.GetStored() != 0 || second.GetDuplicates() != importCount {
		return "", fmt.Errorf("second import: %v, want %d received and duplicates, 0 stored", second, importCount)
	}
	session, err := sessions.GetSession(ctx, &memoriav1.GetSessionRequest{SessionId: sessionID})
	if err != nil {
		return "", err
	}
	if session.GetSession().GetMessageCount() != importCount {
		return "", fmt.Errorf("session holds %d messages, want %d", session.GetSession().GetMessageCount(), importCount)
	}
	return fmt.Sprintf("%d stored, then %d stored and %d duplicates; session holds %d",
		first.GetStored(), second.GetStored(), second.GetDuplicates(), session.GetSession().GetMessageCount()), nil
}

func importHistory(ctx context.Context, memory memoriav1.MemoryServiceClient, sessionID string, history []*memoriav1.ImportedMessage) (*memoriav1.ImportMessagesResponse, error) {
	stream, err := memory.ImportMessages(ctx)
	if err != nil {
		return nil, err
	}
	for start := 0; start < len(history); start += importBatch {
		batch := history[start:min(start+importBatch, len(history))]
		if err := stream.Send(&memoriav1.ImportMessagesRequest{SessionId: sessionID, Messages: batch}); err != nil {
			// The server ended the stream; CloseAndRecv returns its status.
			break
		}
	}
	return stream.CloseAndRecv()
}

func badRequest(ctx context.Context, memory memoriav1.MemoryServiceClient) (string, error) {
	_, err := memory.GetMemory(ctx, &memoriav1.GetMemoryRequest{SessionId: "no such session!"})
	st := status.Convert(err)
	if st.Code() != codes.InvalidArgument {
		return "", fmt.Errorf("got %v, want INVALID_ARGUMENT", err)
	}
	for _, detail := range st.Details() {
		if br, ok := detail.(*errdetails.BadRequest); ok && len(br.GetFieldViolations()) > 0 {
			v := br.GetFieldViolations()[0]
			if v.GetField() != "session_id" {
				return "", fmt.Errorf("violation names field %q, want session_id", v.GetField())
			}
			return fmt.Sprintf("BadRequest: %s: %s", v.GetField(), v.GetDescription()), nil
		}
	}
	return "", fmt.Errorf("no google.rpc.BadRequest detail in %v", st.Proto())
}

func notFound(ctx context.Context, memory memoriav1.MemoryServiceClient, sessionID string) (string, error) {
	_, err := memory.GetMemory(ctx, &memoriav1.GetMemoryRequest{SessionId: sessionID})
	if status.Code(err) != codes.NotFound {
		return "", fmt.Errorf("got %v, want NOT_FOUND", err)
	}
	return "NOT_FOUND: " + status.Convert(err).Message(), nil
}

// newUUID returns a random (version 4) UUID in its canonical text form.
func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
